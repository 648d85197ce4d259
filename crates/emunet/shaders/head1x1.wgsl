// head1x1.wgsl — the U-Net head: 1×1 convolution C → 1, + bias, sigmoid.
//
// prob[oy + ty][ox + tx] = sigmoid(bias + Σ_c w[c] · x[ty][tx][c]) for every tile pixel (ty, tx) in the
// tile's core rectangle whose frame position lies inside the out_h × out_w frame. The frame may be
// processed as several tiles with halos; each tile writes only its core into the frame-sized output,
// and the reflect-padded rows/columns past the frame are cropped here. With `logits` = 1 the raw
// logit is written instead of its sigmoid (training: a batch is the tile's N·H stacked rows).
//
// Bindings:
//   0 x      read        [th][tw][c4] vec4<f32>   (batch 1)
//   1 weight read        [c4] vec4<f32>           (zero-padded channels)
//   2 bias   read        [1] vec4<f32>            (bias in .x)
//   3 prob   read_write  [out_h][out_w] f32
//   4 p      uniform     Head1x1Params
//
// Dispatch: workgroup 8×8, one invocation per core pixel; grid = (ceil(core_w/8), ceil(core_h/8), 1).

struct Head1x1Params {
    th: u32,
    tw: u32,
    c4: u32,
    logits: u32,
    // core rectangle in tile coordinates [cy0, cy1) × [cx0, cx1)
    cy0: u32,
    cy1: u32,
    cx0: u32,
    cx1: u32,
    // frame position of the tile's (0, 0) and the frame size
    oy: u32,
    ox: u32,
    out_h: u32,
    out_w: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> prob: array<f32>;
@group(0) @binding(4) var<uniform> p: Head1x1Params;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ty = p.cy0 + gid.y;
    let tx = p.cx0 + gid.x;
    if (ty >= p.cy1 || tx >= p.cx1) {
        return;
    }
    let fy = p.oy + ty;
    let fx = p.ox + tx;
    if (fy >= p.out_h || fx >= p.out_w) {
        return;
    }
    let base = (ty * p.tw + tx) * p.c4;
    var acc = vec4<f32>(0.0);
    for (var c = 0u; c < p.c4; c++) {
        acc += weight[c] * x[base + c];
    }
    let logit = bias[0].x + (acc.x + acc.y) + (acc.z + acc.w);
    prob[fy * p.out_w + fx] = select(1.0 / (1.0 + exp(-logit)), logit, p.logits != 0u);
}
