// upconv2x2.wgsl — transposed convolution, kernel 2×2, stride 2, + bias (no activation).
//
// y[n][2i+a][2j+b][co] = bias[co] + Σ_ci x[n][i][j][ci] · w[ci][co][a][b]   (PyTorch ConvTranspose2d)
//
// Bindings:
//   0 x      read        [N][H][W][ci4] vec4<f32>          (input, low resolution)
//   1 weight read        [co4][4][ci4] mat4x4<f32>; tap t = 2a+b; column i = input channel 4·ic4+i,
//                        row j = output channel 4·oc4+j
//   2 bias   read        [co4] vec4<f32>
//   3 y      read_write  [N][2H][2W][co4] vec4<f32>
//   4 p      uniform     Upconv2x2Params (n, h, w of the input, ci4, co4)
//
// Dispatch: workgroup 8×8; one invocation reads one input pixel and writes its 2×2 output block
// for OB vec4 groups of output channels (each input vec4 is reused 4·OB times).
// grid = (ceil(W/8), ceil(H/8), N·ceil(co4/OB)).

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

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weight: array<mat4x4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Upconv2x2Params;

const OB: u32 = 2u;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let oblocks = (p.co4 + OB - 1u) / OB;
    if (gid.x >= p.w || gid.y >= p.h || gid.z >= p.n * oblocks) {
        return;
    }
    let n = gid.z / oblocks;
    let ob = gid.z % oblocks;

    var oc: array<u32, OB>;
    var acc: array<vec4<f32>, 8>; // OB * 4 taps
    for (var o = 0u; o < OB; o++) {
        oc[o] = min(ob * OB + o, p.co4 - 1u);
        let b = bias[oc[o]];
        for (var t = 0u; t < 4u; t++) {
            acc[o * 4u + t] = b;
        }
    }

    let src = ((n * p.h + gid.y) * p.w + gid.x) * p.ci4;
    for (var ic = 0u; ic < p.ci4; ic++) {
        let v = x[src + ic];
        for (var o = 0u; o < OB; o++) {
            for (var t = 0u; t < 4u; t++) {
                acc[o * 4u + t] += weight[(oc[o] * 4u + t) * p.ci4 + ic] * v;
            }
        }
    }

    let wo = 2u * p.w;
    for (var o = 0u; o < OB; o++) {
        if (ob * OB + o >= p.co4) {
            break;
        }
        for (var t = 0u; t < 4u; t++) {
            let yy = 2u * gid.y + t / 2u;
            let xx = 2u * gid.x + t % 2u;
            y[((n * 2u * p.h + yy) * wo + xx) * p.co4 + oc[o]] = acc[o * 4u + t];
        }
    }
}
