// conv3x3_textures.wgsl — where conv3x3.wgsl's activations live in the fused engine: the input is
// a texture_2d_array<f32> (layer ic = channel group ic, so a decoder's concatenation [skip, up] is
// one array whose lower layers the encoder wrote and whose upper layers the up-conv wrote), read
// by the bodies conv3x3_two_rows.wgsl (texture to texture) and conv3x3.wgsl (+ conv3x3_head1x1.wgsl:
// the last conv). Declares binding 0 (x_a) and defines `load_input`. Batch 1 (n = 0); cb4 = 0.
//
// Why textures: lavapipe fetches texels with vector gathers but emulates every storage-buffer load
// lane by lane with a bounds branch each. Measured there: reading the input from a texture made a
// 16→16 conv 1.3× faster (output still a buffer); texel stores cost about what buffer stores do.

@group(0) @binding(0) var x_a: texture_2d_array<f32>;

// Input group `ic` at (row sy, column sx); zero outside the level.
fn load_input(n: u32, sy: i32, sx: i32, ic: u32) -> vec4<f32> {
    let inside = sy >= 0 && sy < i32(p.h) && sx >= 0 && sx < i32(p.w);
    let at = vec2<i32>(clamp(sx, 0, i32(p.w) - 1), clamp(sy, 0, i32(p.h) - 1));
    return select(vec4<f32>(0.0), textureLoad(x_a, at, i32(ic), 0), inside);
}
