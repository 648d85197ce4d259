// head1x1_grad.wgsl — the head's backward from the logits' gradient g (training; batch N is
// stacked as N·H rows): dx[pix][c] = w[c]·g[pix]; dW[c] = Σ_pix g·x[pix][c]; db = Σ_pix g, the
// sums reduced in a fixed order (no float atomics).
//
// Entry points (one bind group):
//   grad_input: one invocation per pixel;
//   partial:    one invocation per chunk of `chunk` pixels → partial[chunk][0..c4] (dW), [c4] (db);
//   reduce:     one invocation per vec4 of the gradient: c4 of grad_w, then grad_b.
//
// Bindings:
//   0 x        read        [P][c4] vec4<f32>   the head's input
//   1 g        read        [P] f32             dloss/dlogit
//   2 weight   read        [c4] vec4<f32>
//   3 dx       read_write  [P][c4] vec4<f32>
//   4 partial  read_write  [chunks][c4 + 1] vec4<f32>
//   5 grad_w   read_write  [c4] vec4<f32>       dW (zero-padded channels get 0)
//   6 grad_b   read_write  [1] vec4<f32>        (db, 0, 0, 0)
//   7 p        uniform     HeadGradParams (count P, c4, chunk)
//
// Dispatch: workgroups of 64, items (wid.y · nwg.x + wid.x) · 64 + local index.

struct HeadGradParams {
    count: u32,
    c4: u32,
    chunk: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> partial_sums: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> grad_w: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> grad_b: array<vec4<f32>>;
@group(0) @binding(7) var<uniform> p: HeadGradParams;

fn item(li: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + li;
}

@compute @workgroup_size(64, 1, 1)
fn grad_input(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = item(li, wid, nwg);
    if (i >= p.count) {
        return;
    }
    for (var c = 0u; c < p.c4; c++) {
        dx[i * p.c4 + c] = weight[c] * g[i];
    }
}

@compute @workgroup_size(64, 1, 1)
fn partial(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let chunks = (p.count + p.chunk - 1u) / p.chunk;
    let k = item(li, wid, nwg);
    if (k >= chunks * (p.c4 + 1u)) {
        return;
    }
    let chunk = k / (p.c4 + 1u);
    let c = k % (p.c4 + 1u);
    var s = vec4<f32>(0.0);
    for (var i = chunk * p.chunk; i < min((chunk + 1u) * p.chunk, p.count); i++) {
        if (c < p.c4) {
            s += g[i] * x[i * p.c4 + c];
        } else {
            s.x += g[i];
        }
    }
    partial_sums[k] = s;
}

@compute @workgroup_size(64, 1, 1)
fn reduce(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let c = item(li, wid, nwg);
    if (c > p.c4) {
        return;
    }
    let chunks = (p.count + p.chunk - 1u) / p.chunk;
    var s = vec4<f32>(0.0);
    for (var k = 0u; k < chunks; k++) {
        s += partial_sums[k * (p.c4 + 1u) + c];
    }
    if (c < p.c4) {
        grad_w[c] = s;
    } else {
        grad_b[0] = s;
    }
}
