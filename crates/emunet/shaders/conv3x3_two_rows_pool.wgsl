// conv3x3_two_rows_pool.wgsl — the encoder conv2's epilogue for conv3x3_two_rows.wgsl: the 2×2
// max-pool of the block just stored, written as the next level's input (binding 8,
// [co4 layers][H/2][W/2]; H and W are even: the fused engine pads frames to 2^depth).

@group(0) @binding(8) var pooled: texture_storage_2d_array<rgba32float, write>;

// `t`, `b`: the activated texels of rows `row` and row + 1 (row even), columns xs .. xs + PW − 1.
fn pool_block(row: u32, xs: u32, oc: u32, t: array<vec4<f32>, PW>, b: array<vec4<f32>, PW>) {
    if (row + 1u >= p.h) {
        return;
    }
    for (var j = 0u; j < PW / 2u; j++) {
        if (xs + 2u * j + 1u < p.w) {
            let m = max(max(t[2u * j], t[2u * j + 1u]), max(b[2u * j], b[2u * j + 1u]));
            textureStore(pooled, vec2<u32>(xs / 2u + j, row / 2u), oc, m);
        }
    }
}
