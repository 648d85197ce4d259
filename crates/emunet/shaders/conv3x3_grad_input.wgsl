// conv3x3_grad_input.wgsl — conv3x3's gradient with respect to its input(s), ReLU mask fused.
//
// dz[co] = dy[co] where the forward output y[co] > 0 (else 0; with relu = 0, dz = dy), then
// dx[n][y][x][ci] = Σ_{co,ky,kx} w[co][ci][ky][kx] · dz[n][y − ky + 1][x − kx + 1][co]
// for the input concatenation [x_a, x_b]: groups 0..ca4 are written to dx_a, the rest to dx_b, so
// the decoder's skip and up-path gradients come out separately (never concatenated).
//
// Bindings (inputs, outputs, parameters):
//   0 dy     read        [N][H][W][co4] vec4<f32>   gradient of the conv's output
//   1 y      read        [N][H][W][co4] vec4<f32>   the conv's forward output (after ReLU)
//   2 weight read        (declared by the variant file) the forward layout: [co4][ca4+cb4][9] blocks (see conv3x3.wgsl)
//   3 dx_a   read_write  [N][H][W][ca4] vec4<f32>
//   4 dx_b   read_write  [N][H][W][cb4] vec4<f32>   (bind dx_a again when cb4 = 0)
//   5 p      uniform     Conv3x3Params (the forward conv's: n, h, w, ca4, cb4, co4, relu; ob_first 0)
//
// Dispatch: as conv3x3.wgsl, with the roles of input and output groups exchanged: one invocation
// writes PX pixels × 4 input groups; grid = (gx, gy, N·ceil((ca4+cb4)/4)). Each block is applied
// transposed (`dz * w`) with the taps mirrored. Module: conv3x3_blocks.wgsl + this file + a
// weights file (conv3x3_weights_storage.wgsl) + a variant file (conv3x3_direct.wgsl or
// conv3x3_subgroup.wgsl, as for the forward conv).

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> y: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx_a: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dx_b: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: Conv3x3Params;

const OB: u32 = 4u;

// dz of output group `oc` at (row sy, column sx); zero outside the frame.
fn load_dz(n: u32, sy: i32, sx: i32, oc: u32) -> vec4<f32> {
    let inside = sy >= 0 && sy < i32(p.h) && sx >= 0 && sx < i32(p.w);
    let pix = (n * p.h + u32(clamp(sy, 0, i32(p.h) - 1))) * p.w + u32(clamp(sx, 0, i32(p.w) - 1));
    let i = pix * p.co4 + oc;
    let g = select(dy[i], select(vec4<f32>(0.0), dy[i], y[i] > vec4<f32>(0.0)), p.relu != 0u);
    return select(vec4<f32>(0.0), g, inside);
}

fn load_dz_row(n: u32, sy: i32, xs: i32, oc: u32) -> Row {
    return Row(
        load_dz(n, sy, xs - 1, oc),
        load_dz(n, sy, xs + 0, oc),
        load_dz(n, sy, xs + 1, oc),
        load_dz(n, sy, xs + 2, oc),
        load_dz(n, sy, xs + 3, oc),
        load_dz(n, sy, xs + 4, oc),
        load_dz(n, sy, xs + 5, oc),
        load_dz(n, sy, xs + 6, oc),
        load_dz(n, sy, xs + 7, oc),
        load_dz(n, sy, xs + 8, oc),
    );
}

fn store(n: u32, row: u32, xs: u32, ic: u32, a: Acc) {
    let cin4 = p.ca4 + p.cb4;
    if (row >= p.h || ic >= cin4) {
        return;
    }
    let base = (n * p.h + row) * p.w;
    let v = array<vec4<f32>, PX>(a.p0, a.p1, a.p2, a.p3, a.p4, a.p5, a.p6, a.p7);
    for (var i = 0u; i < PX; i++) {
        if (xs + i < p.w) {
            if (ic < p.ca4) {
                dx_a[(base + xs + i) * p.ca4 + ic] = v[i];
            } else {
                dx_b[(base + xs + i) * p.cb4 + (ic - p.ca4)] = v[i];
            }
        }
    }
}

// The kernel body; `lane` is the invocation's subgroup lane (used by the subgroup variant).
fn kernel(li: u32, wid: vec3<u32>, nwg: vec3<u32>, lane: u32) {
    let cin4 = p.ca4 + p.cb4;
    let iblocks = (cin4 + OB - 1u) / OB;
    let n = wid.z / iblocks;
    let ib = wid.z % iblocks;
    let xblocks = (p.w + PX - 1u) / PX;
    let block = (wid.y * nwg.x + wid.x) * 64u + li;
    let row = block / xblocks; // ≥ H past the last block: clamped below, never stored
    let xs = (block % xblocks) * PX;
    let cx = i32(min(xs, p.w - 1u));
    let cy = i32(min(row, p.h - 1u));
    let ic0 = ib * OB;
    let g0 = min(ic0, cin4 - 1u);
    let g1 = min(ic0 + 1u, cin4 - 1u);
    let g2 = min(ic0 + 2u, cin4 - 1u);
    let g3 = min(ic0 + 3u, cin4 - 1u);
    var a0 = splat(vec4<f32>(0.0));
    var a1 = a0;
    var a2 = a0;
    var a3 = a0;
    for (var oc = 0u; oc < p.co4; oc++) {
        let q0 = load_dz_row(n, cy + 1, cx, oc);
        let q1 = load_dz_row(n, cy, cx, oc);
        let q2 = load_dz_row(n, cy - 1, cx, oc);
        a0 = conv_taps_transposed(a0, load_taps(oc, g0, cin4, lane), q0, q1, q2);
        a1 = conv_taps_transposed(a1, load_taps(oc, g1, cin4, lane), q0, q1, q2);
        a2 = conv_taps_transposed(a2, load_taps(oc, g2, cin4, lane), q0, q1, q2);
        a3 = conv_taps_transposed(a3, load_taps(oc, g3, cin4, lane), q0, q1, q2);
    }
    store(n, row, xs, ic0, a0);
    store(n, row, xs, ic0 + 1u, a1);
    store(n, row, xs, ic0 + 2u, a2);
    store(n, row, xs, ic0 + 3u, a3);
}
