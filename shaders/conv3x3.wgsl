// conv3x3.wgsl — 3×3 convolution, zero "same" padding, + bias, + ReLU (fused epilogue).
//
// Computes y[n][y][x][co] = relu(bias[co] + Σ_{ci,ky,kx} w[co][ci][ky][kx] · in[n][y+ky-1][x+kx-1][ci])
// where `in` is the channel concatenation [x_a, x_b] (x_a first). The decoder's first conv reads its
// skip tensor as x_a and the up-convolution output as x_b, so the concatenation is never materialised;
// the single-input form binds the same buffer twice and sets cb4 = 0.
//
// Bindings (inputs, outputs, parameters):
//   0 x_a    read        [N][H][W][ca4] vec4<f32>   channels-last, channels packed by 4 (zero-padded)
//   1 x_b    read        [N][H][W][cb4] vec4<f32>   (unused when cb4 = 0)
//   2 weight read        [co4][9][ca4+cb4] mat4x4<f32>; column i = input channel 4·ic4+i,
//                        row j = output channel 4·oc4+j, so the inner step is `acc += w * x`
//   3 bias   read        [co4] vec4<f32>
//   4 y      read_write  [N][H][W][co4] vec4<f32>
//   5 p      uniform     Conv3x3Params
//
// Dispatch: workgroup 8×8; one invocation writes PX consecutive pixels of one row × OB vec4 groups
// of output channels (register blocking: each weight matrix is reused PX times, each input vec4
// OB·3 times). grid = (ceil(ceil(W/PX)/8), ceil(H/8), N·ceil(co4/OB)).
// Padded output channels have zero weights and bias, so they stay exactly 0 after ReLU.

struct Conv3x3Params {
    n: u32,
    h: u32,
    w: u32,
    ca4: u32,
    cb4: u32,
    co4: u32,
    relu: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> x_a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x_b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<mat4x4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: Conv3x3Params;

const PX: u32 = 4u;
const OB: u32 = 2u;

fn load_input(n: u32, sy: u32, sx: i32, ic4: u32) -> vec4<f32> {
    if (sx < 0 || sx >= i32(p.w)) {
        return vec4<f32>(0.0);
    }
    let pix = (n * p.h + sy) * p.w + u32(sx);
    if (ic4 < p.ca4) {
        return x_a[pix * p.ca4 + ic4];
    }
    return x_b[pix * p.cb4 + (ic4 - p.ca4)];
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let xblocks = (p.w + PX - 1u) / PX;
    let oblocks = (p.co4 + OB - 1u) / OB;
    if (gid.x >= xblocks || gid.y >= p.h || gid.z >= p.n * oblocks) {
        return;
    }
    let n = gid.z / oblocks;
    let ob = gid.z % oblocks;
    let x0 = gid.x * PX;
    let row = gid.y;
    let cin4 = p.ca4 + p.cb4;

    // Output groups past co4 (when co4 is not a multiple of OB) compute on a valid group and are not stored.
    var oc: array<u32, OB>;
    var acc: array<vec4<f32>, 8>; // OB * PX
    for (var o = 0u; o < OB; o++) {
        oc[o] = min(ob * OB + o, p.co4 - 1u);
        let b = bias[oc[o]];
        for (var i = 0u; i < PX; i++) {
            acc[o * PX + i] = b;
        }
    }

    for (var ic = 0u; ic < cin4; ic++) {
        for (var ky = 0u; ky < 3u; ky++) {
            let sy = i32(row) + i32(ky) - 1;
            if (sy < 0 || sy >= i32(p.h)) {
                continue;
            }
            var xin: array<vec4<f32>, 6>; // PX + 2
            for (var i = 0u; i < PX + 2u; i++) {
                xin[i] = load_input(n, u32(sy), i32(x0 + i) - 1, ic);
            }
            for (var kx = 0u; kx < 3u; kx++) {
                for (var o = 0u; o < OB; o++) {
                    let wm = weight[(oc[o] * 9u + ky * 3u + kx) * cin4 + ic];
                    for (var i = 0u; i < PX; i++) {
                        acc[o * PX + i] += wm * xin[i + kx];
                    }
                }
            }
        }
    }

    for (var o = 0u; o < OB; o++) {
        if (ob * OB + o >= p.co4) {
            break;
        }
        for (var i = 0u; i < PX; i++) {
            if (x0 + i >= p.w) {
                break;
            }
            var v = acc[o * PX + i];
            if (p.relu != 0u) {
                v = max(v, vec4<f32>(0.0));
            }
            y[((n * p.h + row) * p.w + x0 + i) * p.co4 + oc[o]] = v;
        }
    }
}
