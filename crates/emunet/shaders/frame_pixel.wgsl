// frame_pixel.wgsl — one pixel of the packed camera frame and the network's input value of it,
// prepended to normalize.wgsl and conv3x3_frame.wgsl (and fir_filter.wgsl for the unpacking), so
// the fused engine's first conv reads exactly what the per-operation engine's normalize writes.
// The module must declare `raw: array<u32>`: packed pixels, 32/bits per word, row-major.

// Rows/columns past the frame (bottom/right padding) reflect without repeating the edge pixel:
// f ≥ n ↦ 2(n − 1) − f.
fn reflect_index(f: u32, n: u32) -> u32 {
    return select(f, 2u * (n - 1u) - f, f >= n);
}

// Raw value of pixel i (row-major) of a frame of `bits`-bit pixels.
fn raw_pixel(i: u32, bits: u32) -> u32 {
    let per_word = 32u / bits;
    let mask = (1u << bits) - 1u;
    return (raw[i / per_word] >> ((i % per_word) * bits)) & mask;
}

// The network's input for raw value v: mode 0 ("zscore") (v / max − mean_p) · inv_std, mode 1
// ("median") (v − median_v) · 255 / (32 · max), with max = 2^bits − 1.
fn normalized(v: u32, bits: u32, mode: u32, mean_p: f32, inv_std: f32, median_v: f32) -> f32 {
    let max_value = f32((1u << bits) - 1u);
    if (mode == 0u) {
        return (f32(v) / max_value - mean_p) * inv_std;
    }
    return (f32(v) - median_v) * (255.0 / (32.0 * max_value));
}
