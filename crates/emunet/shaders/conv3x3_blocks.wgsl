// conv3x3_blocks.wgsl — the parameters and register blocks shared by conv3x3.wgsl and
// conv3x3_grad_input.wgsl (prepended to both): PX adjacent pixels of one output group, the
// PX + 2 inputs of one row they read, the nine 4×4 weight blocks of one (output group, input
// group), and the tap steps.
// Forward steps compute `w * x` (sum over input channels); transposed steps compute `x * w`
// (sum over output channels), which is what the input gradient needs; both as `mv`, four fused
// multiply-adds.

// The parameters of a conv3x3 (the input gradient takes the forward conv's own).
struct Conv3x3Params {
    n: u32,
    h: u32,
    w: u32,
    ca4: u32,
    cb4: u32,
    co4: u32,
    relu: u32,
    // The first block of OB output groups this dispatch computes (0 but for the uniform variant,
    // which runs one dispatch per window of blocks whose weights fit its uniform buffer).
    ob_first: u32,
}

const PX: u32 = 8u;

// The nine 4×4 weight blocks of one (output group, input group), taps in row-major order.
struct Taps {
    t0: mat4x4<f32>,
    t1: mat4x4<f32>,
    t2: mat4x4<f32>,
    t3: mat4x4<f32>,
    t4: mat4x4<f32>,
    t5: mat4x4<f32>,
    t6: mat4x4<f32>,
    t7: mat4x4<f32>,
    t8: mat4x4<f32>,
}

// The PX + 2 input vec4s (one input group) of one input row that PX adjacent outputs read.
struct Row {
    x0: vec4<f32>,
    x1: vec4<f32>,
    x2: vec4<f32>,
    x3: vec4<f32>,
    x4: vec4<f32>,
    x5: vec4<f32>,
    x6: vec4<f32>,
    x7: vec4<f32>,
    x8: vec4<f32>,
    x9: vec4<f32>,
}

// PX adjacent output pixels of one output group.
struct Acc {
    p0: vec4<f32>,
    p1: vec4<f32>,
    p2: vec4<f32>,
    p3: vec4<f32>,
    p4: vec4<f32>,
    p5: vec4<f32>,
    p6: vec4<f32>,
    p7: vec4<f32>,
}

// a + w·x as four vec4 multiply-adds, column by column. Written with fma() because lavapipe
// compiles `a + w * x` as a dot product per row (shuffles, separate multiplies and adds): this
// form is 1.2× faster there (benches/conv3x3.rs) and the same arithmetic on a GPU.
fn mv(a: vec4<f32>, w: mat4x4<f32>, x: vec4<f32>) -> vec4<f32> {
    return fma(w[3], vec4<f32>(x.w), fma(w[2], vec4<f32>(x.z), fma(w[1], vec4<f32>(x.y), fma(w[0], vec4<f32>(x.x), a))));
}

// One tap (kx = k) of one kernel row applied to PX outputs: output i reads input column i + k.
fn tap0(a: Acc, w0: mat4x4<f32>, r: Row) -> Acc {
    return Acc(
        mv(a.p0, w0, r.x0),
        mv(a.p1, w0, r.x1),
        mv(a.p2, w0, r.x2),
        mv(a.p3, w0, r.x3),
        mv(a.p4, w0, r.x4),
        mv(a.p5, w0, r.x5),
        mv(a.p6, w0, r.x6),
        mv(a.p7, w0, r.x7),
    );
}

fn tap1(a: Acc, w1: mat4x4<f32>, r: Row) -> Acc {
    return Acc(
        mv(a.p0, w1, r.x1),
        mv(a.p1, w1, r.x2),
        mv(a.p2, w1, r.x3),
        mv(a.p3, w1, r.x4),
        mv(a.p4, w1, r.x5),
        mv(a.p5, w1, r.x6),
        mv(a.p6, w1, r.x7),
        mv(a.p7, w1, r.x8),
    );
}

fn tap2(a: Acc, w2: mat4x4<f32>, r: Row) -> Acc {
    return Acc(
        mv(a.p0, w2, r.x2),
        mv(a.p1, w2, r.x3),
        mv(a.p2, w2, r.x4),
        mv(a.p3, w2, r.x5),
        mv(a.p4, w2, r.x6),
        mv(a.p5, w2, r.x7),
        mv(a.p6, w2, r.x8),
        mv(a.p7, w2, r.x9),
    );
}

// All nine taps of one (output group, input group) over the three input rows.
fn conv_taps(a: Acc, t: Taps, r0: Row, r1: Row, r2: Row) -> Acc {
    var s = tap2(tap1(tap0(a, t.t0, r0), t.t1, r0), t.t2, r0);
    s = tap2(tap1(tap0(s, t.t3, r1), t.t4, r1), t.t5, r1);
    return tap2(tap1(tap0(s, t.t6, r2), t.t7, r2), t.t8, r2);
}


// Transposed taps for the input gradient: output i at column xs + i reads dz at column
// xs + i − kx + 1 = row entry i + 2 − kx, and the block acts as its transpose (`x * w`).
fn tap_t0(a: Acc, w: mat4x4<f32>, r: Row) -> Acc {
    let wt = transpose(w);
    return Acc(
        mv(a.p0, wt, r.x2),
        mv(a.p1, wt, r.x3),
        mv(a.p2, wt, r.x4),
        mv(a.p3, wt, r.x5),
        mv(a.p4, wt, r.x6),
        mv(a.p5, wt, r.x7),
        mv(a.p6, wt, r.x8),
        mv(a.p7, wt, r.x9),
    );
}

fn tap_t1(a: Acc, w: mat4x4<f32>, r: Row) -> Acc {
    let wt = transpose(w);
    return Acc(
        mv(a.p0, wt, r.x1),
        mv(a.p1, wt, r.x2),
        mv(a.p2, wt, r.x3),
        mv(a.p3, wt, r.x4),
        mv(a.p4, wt, r.x5),
        mv(a.p5, wt, r.x6),
        mv(a.p6, wt, r.x7),
        mv(a.p7, wt, r.x8),
    );
}

fn tap_t2(a: Acc, w: mat4x4<f32>, r: Row) -> Acc {
    let wt = transpose(w);
    return Acc(
        mv(a.p0, wt, r.x0),
        mv(a.p1, wt, r.x1),
        mv(a.p2, wt, r.x2),
        mv(a.p3, wt, r.x3),
        mv(a.p4, wt, r.x4),
        mv(a.p5, wt, r.x5),
        mv(a.p6, wt, r.x6),
        mv(a.p7, wt, r.x7),
    );
}

// All nine transposed taps: q0, q1, q2 are the dz rows y + 1, y, y − 1 (ky = 0, 1, 2).
fn conv_taps_transposed(a: Acc, t: Taps, q0: Row, q1: Row, q2: Row) -> Acc {
    var s = tap_t2(tap_t1(tap_t0(a, t.t0, q0), t.t1, q0), t.t2, q0);
    s = tap_t2(tap_t1(tap_t0(s, t.t3, q1), t.t4, q1), t.t5, q1);
    return tap_t2(tap_t1(tap_t0(s, t.t6, q2), t.t7, q2), t.t8, q2);
}

fn splat(b: vec4<f32>) -> Acc {
    return Acc(b, b, b, b, b, b, b, b);
}
