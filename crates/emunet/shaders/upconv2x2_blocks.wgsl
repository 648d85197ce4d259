// upconv2x2_blocks.wgsl — declarations shared by upconv2x2.wgsl and upconv2x2_grad_input.wgsl
// (prepended to both): the forward op's parameters (the input gradient takes the forward op's
// own) and the four tap blocks that the variant files' `load_quad` returns.

struct Upconv2x2Params {
    n: u32,
    h: u32,
    w: u32,
    ci4: u32,
    co4: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// The four taps (2a + b) of one (output group, input group).
struct Quad {
    t0: mat4x4<f32>,
    t1: mat4x4<f32>,
    t2: mat4x4<f32>,
    t3: mat4x4<f32>,
}

// a + w·x as four vec4 multiply-adds, column by column (see conv3x3_blocks.wgsl's `mv`).
fn mv(a: vec4<f32>, w: mat4x4<f32>, x: vec4<f32>) -> vec4<f32> {
    return fma(w[3], vec4<f32>(x.w), fma(w[2], vec4<f32>(x.z), fma(w[1], vec4<f32>(x.y), fma(w[0], vec4<f32>(x.x), a))));
}
