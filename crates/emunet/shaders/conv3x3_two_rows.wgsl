// conv3x3_two_rows.wgsl — the fused engine's texture-to-texture conv body: conv3x3.wgsl's
// convolution (+ bias, ReLU) with one invocation computing a 4-pixel × 2-row block for OB = 4
// output groups (the same 32 accumulators as conv3x3.wgsl's 8 × 1 block; 1.1× faster on lavapipe,
// 4 input rows of 6 texels instead of 3 of 10 per input group). The 2 rows let the encoder's conv2
// also write its 2×2 max-pool from registers: after storing the block, the body calls
// `pool_block`, which conv3x3_two_rows_pool.wgsl defines (writes the pooled texels, binding 8) and
// conv3x3_two_rows_nopool.wgsl leaves empty.
//
// Bindings (0 and `load_input` come from conv3x3_textures.wgsl; 2 and `load_taps` from the weights
// and variant files, as for conv3x3.wgsl):
//   0 x_a    texture_2d_array<f32>               [ca4 layers][H][W], cb4 = 0, batch 1
//   2 weight                                     as conv3x3.wgsl
//   3 bias   read        [co4] vec4<f32>
//   4 y      texture_storage_2d_array<rgba32float, write>  [co4 layers][H][W]
//   5 p      uniform     Conv3x3Params (ob_first as conv3x3.wgsl)
//
// Dispatch: blocks of PW × 2 pixels numbered row-major (block = (wid.y · nwg.x + wid.x) · 64 +
// local index over ceil(W/PW) · ceil(H/2) blocks), grid z = ceil(co4/4) output blocks, or those
// of the window with uniform weights. Module: conv3x3_blocks.wgsl + this file +
// conv3x3_textures.wgsl + conv3x3_two_rows_pool.wgsl or _nopool.wgsl + a weights file + a variant
// file.

@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var y: texture_storage_2d_array<rgba32float, write>;
@group(0) @binding(5) var<uniform> p: Conv3x3Params;

const OB: u32 = 4u;
const PW: u32 = 4u;

// The PW + 2 input vec4s of one input row that PW adjacent outputs read.
struct Row4 {
    x0: vec4<f32>,
    x1: vec4<f32>,
    x2: vec4<f32>,
    x3: vec4<f32>,
    x4: vec4<f32>,
    x5: vec4<f32>,
}

// PW adjacent outputs of one output group.
struct Acc4 {
    p0: vec4<f32>,
    p1: vec4<f32>,
    p2: vec4<f32>,
    p3: vec4<f32>,
}

fn load_row4(sy: i32, xs: i32, ic: u32) -> Row4 {
    return Row4(
        load_input(0u, sy, xs - 1, ic),
        load_input(0u, sy, xs, ic),
        load_input(0u, sy, xs + 1, ic),
        load_input(0u, sy, xs + 2, ic),
        load_input(0u, sy, xs + 3, ic),
        load_input(0u, sy, xs + 4, ic),
    );
}

// Tap kx = 0, 1, 2 of one kernel row: output i reads input column i + kx.
fn tap4_0(a: Acc4, w: mat4x4<f32>, r: Row4) -> Acc4 {
    return Acc4(mv(a.p0, w, r.x0), mv(a.p1, w, r.x1), mv(a.p2, w, r.x2), mv(a.p3, w, r.x3));
}

fn tap4_1(a: Acc4, w: mat4x4<f32>, r: Row4) -> Acc4 {
    return Acc4(mv(a.p0, w, r.x1), mv(a.p1, w, r.x2), mv(a.p2, w, r.x3), mv(a.p3, w, r.x4));
}

fn tap4_2(a: Acc4, w: mat4x4<f32>, r: Row4) -> Acc4 {
    return Acc4(mv(a.p0, w, r.x2), mv(a.p1, w, r.x3), mv(a.p2, w, r.x4), mv(a.p3, w, r.x5));
}

// All nine taps for one output row, whose input rows are r0, r1, r2.
fn conv_taps4(a: Acc4, t: Taps, r0: Row4, r1: Row4, r2: Row4) -> Acc4 {
    var s = tap4_2(tap4_1(tap4_0(a, t.t0, r0), t.t1, r0), t.t2, r0);
    s = tap4_2(tap4_1(tap4_0(s, t.t3, r1), t.t4, r1), t.t5, r1);
    return tap4_2(tap4_1(tap4_0(s, t.t6, r2), t.t7, r2), t.t8, r2);
}

fn splat4(b: vec4<f32>) -> Acc4 {
    return Acc4(b, b, b, b);
}

fn activate(v: vec4<f32>) -> vec4<f32> {
    return select(v, max(v, vec4<f32>(0.0)), p.relu != 0u);
}

// Stores output group `oc` of the block (rows `row`, row + 1: `top`, `bottom`), then hands the
// activated texels to `pool_block`.
fn store_rows(row: u32, xs: u32, oc: u32, top: Acc4, bottom: Acc4) {
    if (row >= p.h || oc >= p.co4) {
        return;
    }
    let t = array<vec4<f32>, PW>(activate(top.p0), activate(top.p1), activate(top.p2), activate(top.p3));
    let b = array<vec4<f32>, PW>(activate(bottom.p0), activate(bottom.p1), activate(bottom.p2), activate(bottom.p3));
    let second = row + 1u < p.h;
    for (var i = 0u; i < PW; i++) {
        if (xs + i < p.w) {
            textureStore(y, vec2<u32>(xs + i, row), oc, t[i]);
            if (second) {
                textureStore(y, vec2<u32>(xs + i, row + 1u), oc, b[i]);
            }
        }
    }
    pool_block(row, xs, oc, t, b);
}

// The kernel body; `lane` is the invocation's subgroup lane (used by the subgroup variant).
fn kernel(li: u32, wid: vec3<u32>, nwg: vec3<u32>, lane: u32) {
    let oblocks = (p.co4 + OB - 1u) / OB;
    let ob = p.ob_first + wid.z % oblocks;
    let xblocks = (p.w + PW - 1u) / PW;
    let block = (wid.y * nwg.x + wid.x) * 64u + li;
    let row = (block / xblocks) * 2u; // ≥ H past the last block: clamped below, never stored
    let xs = (block % xblocks) * PW;
    let cx = i32(min(xs, p.w - 1u));
    let cy = i32(min(row, p.h - 1u));
    let oc0 = ob * OB;
    let g0 = min(oc0, p.co4 - 1u);
    let g1 = min(oc0 + 1u, p.co4 - 1u);
    let g2 = min(oc0 + 2u, p.co4 - 1u);
    let g3 = min(oc0 + 3u, p.co4 - 1u);
    var a0 = splat4(bias[g0]);
    var a1 = splat4(bias[g1]);
    var a2 = splat4(bias[g2]);
    var a3 = splat4(bias[g3]);
    var b0 = a0;
    var b1 = a1;
    var b2 = a2;
    var b3 = a3;
    let cin4 = p.ca4;
    for (var ic = 0u; ic < cin4; ic++) {
        let r0 = load_row4(cy - 1, cx, ic);
        let r1 = load_row4(cy, cx, ic);
        let r2 = load_row4(cy + 1, cx, ic);
        let r3 = load_row4(cy + 2, cx, ic);
        let t0 = load_taps(g0, ic, cin4, lane);
        a0 = conv_taps4(a0, t0, r0, r1, r2);
        b0 = conv_taps4(b0, t0, r1, r2, r3);
        let t1 = load_taps(g1, ic, cin4, lane);
        a1 = conv_taps4(a1, t1, r0, r1, r2);
        b1 = conv_taps4(b1, t1, r1, r2, r3);
        let t2 = load_taps(g2, ic, cin4, lane);
        a2 = conv_taps4(a2, t2, r0, r1, r2);
        b2 = conv_taps4(b2, t2, r1, r2, r3);
        let t3 = load_taps(g3, ic, cin4, lane);
        a3 = conv_taps4(a3, t3, r0, r1, r2);
        b3 = conv_taps4(b3, t3, r1, r2, r3);
    }
    store_rows(row, xs, oc0, a0, b0);
    store_rows(row, xs, oc0 + 1u, a1, b1);
    store_rows(row, xs, oc0 + 2u, a2, b2);
    store_rows(row, xs, oc0 + 3u, a3, b3);
}
