// conv3x3_texture_out.wgsl — the output half of the fused engine's first conv
// (conv3x3_frame.wgsl): binding 4 (y), a write-only rgba32float storage
// texture array [co4 layers][H][W], and `store_block`, which applies the ReLU and stores texels.

@group(0) @binding(4) var y: texture_storage_2d_array<rgba32float, write>;

fn store_texels(row: u32, xs: u32, oc: u32, a: Acc) {
    if (row >= p.h || oc >= p.co4) {
        return;
    }
    let v = array<vec4<f32>, PX>(a.p0, a.p1, a.p2, a.p3, a.p4, a.p5, a.p6, a.p7);
    for (var i = 0u; i < PX; i++) {
        if (xs + i < p.w) {
            let r = select(v[i], max(v[i], vec4<f32>(0.0)), p.relu != 0u);
            textureStore(y, vec2<u32>(xs + i, row), oc, r);
        }
    }
}

// The OB output groups oc .. oc + 3 of PX pixels (groups past co4 are not stored).
fn store_block(n: u32, row: u32, xs: u32, oc: u32, a0: Acc, a1: Acc, a2: Acc, a3: Acc) {
    store_texels(row, xs, oc, a0);
    store_texels(row, xs, oc + 1u, a1);
    store_texels(row, xs, oc + 2u, a2);
    store_texels(row, xs, oc + 3u, a3);
}
