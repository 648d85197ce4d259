// upconv2x2_grad_input.wgsl — the up-convolution's gradient with respect to its input.
//
// dx[n][i][j][ci] = Σ_{co,a,b} w[ci][co][a][b] · dy[n][2i+a][2j+b][co]
//
// Bindings:
//   0 dy     read        [N][2H][2W][co4] vec4<f32>   gradient of the up-conv's output
//   1 weight read        the forward layout [co4][ci4][4] blocks (see upconv2x2.wgsl)
//   2 dx     read_write  [N][H][W][ci4] vec4<f32>
//   3 p      uniform     Upconv2x2Params (the forward op's: n, h, w of its input, ci4, co4)
//
// Dispatch: as upconv2x2.wgsl with input and output groups exchanged: one invocation writes 2
// adjacent input pixels × 4 input groups, looping over output groups; each tap block is applied
// transposed (`dy * w`). grid = (gx, gy, N·ceil(ci4/4)). Module: upconv2x2_blocks.wgsl + this
// file + a variant file (upconv2x2_direct.wgsl or upconv2x2_subgroup.wgsl: `load_quad`, `main`).

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Upconv2x2Params;

// The output gradient at the four taps of one input pixel, for one output group.
struct Taps4 {
    t0: vec4<f32>,
    t1: vec4<f32>,
    t2: vec4<f32>,
    t3: vec4<f32>,
}

fn load_dy(n: u32, i: u32, j: u32, oc: u32) -> Taps4 {
    let wo = 2u * p.w;
    let top = (n * 2u * p.h + 2u * i) * wo + 2u * j;
    return Taps4(dy[top * p.co4 + oc], dy[(top + 1u) * p.co4 + oc], dy[(top + wo) * p.co4 + oc], dy[(top + wo + 1u) * p.co4 + oc]);
}

fn accumulate(a: vec4<f32>, q: Quad, g: Taps4) -> vec4<f32> {
    return mv(mv(mv(mv(a, transpose(q.t0), g.t0), transpose(q.t1), g.t1), transpose(q.t2), g.t2), transpose(q.t3), g.t3);
}

fn store(n: u32, i: u32, j: u32, ic: u32, v: vec4<f32>) {
    if (i < p.h && j < p.w && ic < p.ci4) {
        dx[((n * p.h + i) * p.w + j) * p.ci4 + ic] = v;
    }
}

fn kernel(li: u32, wid: vec3<u32>, nwg: vec3<u32>, lane: u32) {
    let iblocks = (p.ci4 + 3u) / 4u;
    let n = wid.z / iblocks;
    let ib = wid.z % iblocks;
    let xblocks = (p.w + 1u) / 2u;
    let block = (wid.y * nwg.x + wid.x) * 64u + li;
    let i = block / xblocks;
    let j0 = (block % xblocks) * 2u;
    let j1 = j0 + 1u;
    let ci_ = min(i, p.h - 1u);
    let cj0 = min(j0, p.w - 1u);
    let cj1 = min(j1, p.w - 1u);
    let ic0 = ib * 4u;
    let g0 = min(ic0, p.ci4 - 1u);
    let g1 = min(ic0 + 1u, p.ci4 - 1u);
    let g2 = min(ic0 + 2u, p.ci4 - 1u);
    let g3 = min(ic0 + 3u, p.ci4 - 1u);
    var a00 = vec4<f32>(0.0);
    var a01 = a00;
    var a02 = a00;
    var a03 = a00;
    var a10 = a00;
    var a11 = a00;
    var a12 = a00;
    var a13 = a00;
    for (var oc = 0u; oc < p.co4; oc++) {
        let d0 = load_dy(n, ci_, cj0, oc);
        let d1 = load_dy(n, ci_, cj1, oc);
        let q0 = load_quad(oc, g0, lane);
        a00 = accumulate(a00, q0, d0);
        a10 = accumulate(a10, q0, d1);
        let q1 = load_quad(oc, g1, lane);
        a01 = accumulate(a01, q1, d0);
        a11 = accumulate(a11, q1, d1);
        let q2 = load_quad(oc, g2, lane);
        a02 = accumulate(a02, q2, d0);
        a12 = accumulate(a12, q2, d1);
        let q3 = load_quad(oc, g3, lane);
        a03 = accumulate(a03, q3, d0);
        a13 = accumulate(a13, q3, d1);
    }
    store(n, i, j0, ic0, a00);
    store(n, i, j0, ic0 + 1u, a01);
    store(n, i, j0, ic0 + 2u, a02);
    store(n, i, j0, ic0 + 3u, a03);
    store(n, i, j1, ic0, a10);
    store(n, i, j1, ic0 + 1u, a11);
    store(n, i, j1, ic0 + 2u, a12);
    store(n, i, j1, ic0 + 3u, a13);
}
