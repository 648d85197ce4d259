// flatfield.wgsl — takes the camera's fixed pattern (a file from `emunet flatfield`) out of the
// raw frame in place, before frame_stats and normalize (or the classical filter) read it:
//   v' = clamp(round((v − offset[x]) · inv_gain[i]), 0, 2^bits − 1)
// with round half to even (the reference: `FlatField::apply`, `f32::round_ties_even`); the
// subtraction and the product are single correctly rounded f32 operations, so the GPU and the
// reference agree bit for bit. Pixels past `count` in the last word (the packing's padding) are
// left as they are.
//
// Bindings:
//   0 raw       read_write  packed frame pixels, 4 (u8) or 2 (u16) per u32 word (see frame_stats.wgsl)
//   1 offset    read        [width] f32    column offsets (raw units)
//   2 inv_gain  read        [count] f32    1 / gain per pixel (the host computes it in f32)
//   3 p         uniform     FlatFieldParams
//
// Dispatch: workgroup 64, one invocation per packed word, grid (min(groups, 32768), ⌈groups/32768⌉, 1)
// flattened with num_workgroups.

struct FlatFieldParams {
    count: u32,
    width: u32,
    bits: u32,
    words: u32,
}

@group(0) @binding(0) var<storage, read_write> raw: array<u32>;
@group(0) @binding(1) var<storage, read> offset: array<f32>;
@group(0) @binding(2) var<storage, read> inv_gain: array<f32>;
@group(0) @binding(3) var<uniform> p: FlatFieldParams;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let word = gid.y * nwg.x * 64u + gid.x;
    if (word >= p.words) {
        return;
    }
    let per_word = 32u / p.bits;
    let mask = (1u << p.bits) - 1u;
    let packed = raw[word];
    var out = 0u;
    for (var k = 0u; k < per_word; k++) {
        let i = word * per_word + k;
        var v = (packed >> (k * p.bits)) & mask;
        if (i < p.count) {
            let corrected = round((f32(v) - offset[i % p.width]) * inv_gain[i]);
            v = u32(clamp(corrected, 0.0, f32(mask)));
        }
        out = out | (v << (k * p.bits));
    }
    raw[word] = out;
}
