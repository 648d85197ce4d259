// conv3x3_textures.wgsl — where conv3x3.wgsl's activations live in the fused engine: the input is
// a texture_2d_array<f32> (layer ic = channel group ic, so a decoder's concatenation [skip, up] is
// one array whose lower layers the encoder wrote and whose upper layers the up-conv wrote), the
// output a write-only rgba32float storage texture array. Declares bindings 0 (x_a) and 4 (y) and
// defines `load_input` and `store_block` (see conv3x3.wgsl). Batch 1 (n = 0); cb4 must be 0.
//
// Why textures: lavapipe fetches texels with vector gathers but emulates every storage-buffer load
// lane by lane with a bounds branch each; measured ~1.3× faster for the whole conv there.

@group(0) @binding(0) var x_a: texture_2d_array<f32>;
@group(0) @binding(4) var y: texture_storage_2d_array<rgba32float, write>;

// Input group `ic` at (row sy, column sx); zero outside the level.
fn load_input(n: u32, sy: i32, sx: i32, ic: u32) -> vec4<f32> {
    let inside = sy >= 0 && sy < i32(p.h) && sx >= 0 && sx < i32(p.w);
    let at = vec2<i32>(clamp(sx, 0, i32(p.w) - 1), clamp(sy, 0, i32(p.h) - 1));
    return select(vec4<f32>(0.0), textureLoad(x_a, at, i32(ic), 0), inside);
}

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
