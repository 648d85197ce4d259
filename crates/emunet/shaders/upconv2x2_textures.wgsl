// upconv2x2_textures.wgsl — where upconv2x2.wgsl's activations live in the fused engine: the
// input is a texture_2d_array<f32> (layer = channel group), the output a write-only rgba32float
// storage texture array (in the engine, the upper layers of the decoder's concatenation [skip, up]).
// Declares bindings 0 (x) and 3 (y) and defines `load_x` and `store`. Batch 1 (n = 0).

@group(0) @binding(0) var x: texture_2d_array<f32>;
@group(0) @binding(3) var y: texture_storage_2d_array<rgba32float, write>;

// Input group `ic` of input pixel (i, j).
fn load_x(n: u32, i: u32, j: u32, ic: u32) -> vec4<f32> {
    return textureLoad(x, vec2<u32>(j, i), ic, 0);
}

fn store(n: u32, i: u32, j: u32, oc: u32, a: Block) {
    if (i >= p.h || j >= p.w || oc >= p.co4) {
        return;
    }
    textureStore(y, vec2<u32>(2u * j, 2u * i), oc, a.t0);
    textureStore(y, vec2<u32>(2u * j + 1u, 2u * i), oc, a.t1);
    textureStore(y, vec2<u32>(2u * j, 2u * i + 1u), oc, a.t2);
    textureStore(y, vec2<u32>(2u * j + 1u, 2u * i + 1u), oc, a.t3);
}
