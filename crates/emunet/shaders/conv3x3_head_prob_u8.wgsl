// conv3x3_head_prob_u8.wgsl — how conv3x3_head1x1.wgsl stores the probability: u8, q = round(255·p),
// four pixels per word, pixel 4·word + k in byte k; a quarter of the readback of f32.
// Declares binding 4 (cleared before the pass; words shared by two invocations are OR-ed in) and
// defines `store_prob`.

@group(0) @binding(4) var<storage, read_write> prob: array<atomic<u32>>;

fn store_prob(at: u32, p: f32) {
    let q = min(u32(clamp(p, 0.0, 1.0) * 255.0 + 0.5), 255u);
    if (q != 0u) {
        atomicOr(&prob[at / 4u], q << (8u * (at % 4u)));
    }
}
