// maxpool2x2_grad.wgsl — max-pooling's backward: each output gradient goes to the first maximum
// of its 2×2 window, in the order (0,0), (0,1), (1,0), (1,1), channel by channel; the other three
// positions get 0. Every input position is written by one invocation (a gather, no atomics); with
// `accumulate` = 1 the routed gradient is added to what dx holds (the decoder's skip gradient).
//
// Bindings:
//   0 x   read        [N][H][W][c4] vec4<f32>       the pooling's input
//   1 dy  read        [N][H/2][W/2][c4] vec4<f32>   gradient of its output
//   2 dx  read_write  [N][H][W][c4] vec4<f32>
//   3 p   uniform     Maxpool2x2GradParams (n, h, w of the input, c4, accumulate)
//
// Dispatch: workgroup 64; one invocation per output vec4 (its window's four input vec4s);
// grid = (ceil((W/2)·c4 / 64), H/2, N).

struct Maxpool2x2GradParams {
    n: u32,
    h: u32,
    w: u32,
    c4: u32,
    accumulate: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Maxpool2x2GradParams;

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
    let i00 = ((n * p.h + 2u * gid.y) * p.w + 2u * xo) * p.c4 + c;
    let i01 = i00 + p.c4;
    let i10 = i00 + p.w * p.c4;
    let i11 = i10 + p.c4;
    let v00 = x[i00];
    let v01 = x[i01];
    let v10 = x[i10];
    let v11 = x[i11];
    let g = dy[((n * ho + gid.y) * wo + xo) * p.c4 + c];
    // Per component: is this position the first maximum?
    let m = max(max(v00, v01), max(v10, v11));
    let t00 = v00 == m;
    let t01 = (v01 == m) & !t00;
    let t10 = (v10 == m) & !(t00 | t01);
    let t11 = !(t00 | t01 | t10);
    let zero = vec4<f32>(0.0);
    let acc = p.accumulate != 0u;
    dx[i00] = select(zero, g, t00) + select(zero, dx[i00], acc);
    dx[i01] = select(zero, g, t01) + select(zero, dx[i01], acc);
    dx[i10] = select(zero, g, t10) + select(zero, dx[i10], acc);
    dx[i11] = select(zero, g, t11) + select(zero, dx[i11], acc);
}
