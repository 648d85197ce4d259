// maxpool2x2_textures.wgsl — maxpool2x2.wgsl for the fused engine: 2×2 max-pooling, stride 2,
// from a texture_2d_array<f32> (layer = channel group; in the engine, the lower layers of a
// decoder's concatenation, where the encoder wrote its output) to a write-only rgba32float
// storage texture array (the next level's input).
//
// Bindings:
//   0 x  texture_2d_array<f32>                          [c4 layers][H][W]
//   1 y  texture_storage_2d_array<rgba32float, write>   [c4 layers][H/2][W/2]
//   2 p  uniform     Maxpool2x2Params (n = 1, h, w of the input, c4)
//
// Dispatch: workgroup 8×8, one invocation per output pixel and channel group;
// grid = (ceil((W/2)/8), ceil((H/2)/8), c4).

struct Maxpool2x2Params {
    n: u32,
    h: u32,
    w: u32,
    c4: u32,
}

@group(0) @binding(0) var x: texture_2d_array<f32>;
@group(0) @binding(1) var y: texture_storage_2d_array<rgba32float, write>;
@group(0) @binding(2) var<uniform> p: Maxpool2x2Params;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= p.w / 2u || gid.y >= p.h / 2u) {
        return;
    }
    let a = 2u * gid.xy;
    let c = gid.z;
    let top = max(textureLoad(x, a, c, 0), textureLoad(x, a + vec2<u32>(1u, 0u), c, 0));
    let bottom = max(textureLoad(x, a + vec2<u32>(0u, 1u), c, 0), textureLoad(x, a + vec2<u32>(1u, 1u), c, 0));
    textureStore(y, gid.xy, c, max(top, bottom));
}
