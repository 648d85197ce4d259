// upconv2x2.wgsl — transposed convolution, kernel 2×2, stride 2, + bias (no activation).
//
// y[n][2i+a][2j+b][co] = bias[co] + Σ_ci x[n][i][j][ci] · w[ci][co][a][b]   (PyTorch ConvTranspose2d)
//
// Bindings:
//   0 x      read        [N][H][W][ci4] vec4<f32>   (input, low resolution)
//   1 weight read        (declared by the weights file: storage buffer or uniform)
//                        [co4][ci4][4] mat4x4<f32> as vec4 columns: for one (output group, input
//                        group) the four taps t = 2a+b are contiguous; column i of a block is input
//                        channel 4·ic4+i, row j output channel 4·oc4+j
//   2 bias   read        [co4] vec4<f32>
//   3 y      read_write  [N][2H][2W][co4] vec4<f32>
//   4 p      uniform     Upconv2x2Params (n, h, w of the input, ci4, co4)
//
// Dispatch: workgroups of 64 invocations; one invocation reads 2 adjacent input pixels and writes
// their 2×2 output blocks for 4 vec4 groups of output channels (each weight block is reused twice,
// each input vec4 16 times). Blocks are numbered row-major over all rows as in conv3x3.wgsl:
// grid = (gx, ceil(ceil(B/64)/gx), N·ceil(co4/4)), B = ceil(W/2)·H, gx = min(ceil(B/64), 32768).
// Past-the-end invocations compute on clamped coordinates and store nothing (every invocation
// reaches the subgroup operations).
//
// Module: upconv2x2_blocks.wgsl (parameters, Quad) + this file + a storage file + a weights
// file (upconv2x2_weights_storage.wgsl, or upconv2x2_weights_uniform.wgsl: the fused engine on CPU
// adapters, see there) + a variant file.
// The storage file declares bindings 0 (x) and 3 (y) and defines `load_x` and `store`:
// upconv2x2_buffers.wgsl (storage buffers as above) or upconv2x2_textures.wgsl (the fused engine:
// texture arrays, see conv3x3_textures.wgsl). As for conv3x3, the entry point `main` (which calls
// `kernel`) and `load_quad` come from upconv2x2_direct.wgsl (every invocation loads the blocks) or
// upconv2x2_subgroup.wgsl (lanes 0..7 load the 16 columns together and broadcast them: 5–8×
// faster on lavapipe).

@group(0) @binding(2) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Upconv2x2Params;

// The 2×2 output block of one input pixel for one output group, by tap.
struct Block {
    t0: vec4<f32>,
    t1: vec4<f32>,
    t2: vec4<f32>,
    t3: vec4<f32>,
}

fn accumulate(a: Block, q: Quad, v: vec4<f32>) -> Block {
    return Block(mv(a.t0, q.t0, v), mv(a.t1, q.t1, v), mv(a.t2, q.t2, v), mv(a.t3, q.t3, v));
}

// The kernel body; `lane` is the invocation's subgroup lane (used by the subgroup variant).
fn kernel(li: u32, wid: vec3<u32>, nwg: vec3<u32>, lane: u32) {
    let oblocks = (p.co4 + 3u) / 4u;
    let n = wid.z / oblocks;
    let ob = wid.z % oblocks;
    let xblocks = (p.w + 1u) / 2u;
    let block = (wid.y * nwg.x + wid.x) * 64u + li;
    let i = block / xblocks;
    let j0 = (block % xblocks) * 2u;
    let j1 = j0 + 1u;
    // Past-the-edge invocations read clamped pixels (their results are not stored).
    let ci_ = min(i, p.h - 1u);
    let cj0 = min(j0, p.w - 1u);
    let cj1 = min(j1, p.w - 1u);
    let oc0 = ob * 4u;
    let g0 = min(oc0, p.co4 - 1u);
    let g1 = min(oc0 + 1u, p.co4 - 1u);
    let g2 = min(oc0 + 2u, p.co4 - 1u);
    let g3 = min(oc0 + 3u, p.co4 - 1u);
    let b0 = bias[g0];
    let b1 = bias[g1];
    let b2 = bias[g2];
    let b3 = bias[g3];
    var a00 = Block(b0, b0, b0, b0);
    var a01 = Block(b1, b1, b1, b1);
    var a02 = Block(b2, b2, b2, b2);
    var a03 = Block(b3, b3, b3, b3);
    var a10 = a00;
    var a11 = a01;
    var a12 = a02;
    var a13 = a03;
    for (var ic = 0u; ic < p.ci4; ic++) {
        let v0 = load_x(n, ci_, cj0, ic);
        let v1 = load_x(n, ci_, cj1, ic);
        let q0 = load_quad(g0, ic, lane);
        a00 = accumulate(a00, q0, v0);
        a10 = accumulate(a10, q0, v1);
        let q1 = load_quad(g1, ic, lane);
        a01 = accumulate(a01, q1, v0);
        a11 = accumulate(a11, q1, v1);
        let q2 = load_quad(g2, ic, lane);
        a02 = accumulate(a02, q2, v0);
        a12 = accumulate(a12, q2, v1);
        let q3 = load_quad(g3, ic, lane);
        a03 = accumulate(a03, q3, v0);
        a13 = accumulate(a13, q3, v1);
    }
    store(n, i, j0, oc0, a00);
    store(n, i, j0, oc0 + 1u, a01);
    store(n, i, j0, oc0 + 2u, a02);
    store(n, i, j0, oc0 + 3u, a03);
    store(n, i, j1, oc0, a10);
    store(n, i, j1, oc0 + 1u, a11);
    store(n, i, j1, oc0 + 2u, a12);
    store(n, i, j1, oc0 + 3u, a13);
}
