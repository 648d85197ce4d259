// maxpool2x2.wgsl — 2×2 max-pooling, stride 2.
//
// y[n][yo][xo][c] = max over a, b ∈ {0,1} of x[n][2yo+a][2xo+b][c]   (H and W even).
//
// Bindings:
//   0 x  read        [N][H][W][c4] vec4<f32>
//   1 y  read_write  [N][H/2][W/2][c4] vec4<f32>
//   2 p  uniform     Maxpool2x2Params (n, h, w of the input, c4)
//
// Dispatch: workgroup 64; one invocation writes one output vec4 (4 channels of one pixel).
// grid = (ceil((W/2)·c4 / 64), H/2, N).

struct Maxpool2x2Params {
    n: u32,
    h: u32,
    w: u32,
    c4: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Maxpool2x2Params;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let wo = p.w / 2u;
    let ho = p.h / 2u;
    if (gid.x >= wo * p.c4 || gid.y >= ho || gid.z >= p.n) {
        return;
    }
    let xo = gid.x / p.c4;
    let c = gid.x % p.c4;
    let n = gid.z;
    let top = ((n * p.h + 2u * gid.y) * p.w + 2u * xo) * p.c4 + c;
    let bottom = top + p.w * p.c4;
    let m = max(max(x[top], x[top + p.c4]), max(x[bottom], x[bottom + p.c4]));
    y[((n * ho + gid.y) * wo + xo) * p.c4 + c] = m;
}
