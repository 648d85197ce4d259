// adam.wgsl — one bias-corrected Adam step with decoupled weight decay (AdamW), element-wise:
// m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²;
// w −= lr · ((m / c1) / (√(v / c2) + ε) + wd · w),  c1 = 1 − β1^step, c2 = 1 − β2^step.
// Zero-padded channels have zero weights and zero gradients, so they stay zero.
//
// Bindings:
//   0 grad   read        [count] f32
//   1 param  read_write  [count] f32
//   2 m      read_write  [count] f32
//   3 v      read_write  [count] f32
//   4 p      uniform     AdamParams
//
// Dispatch: workgroups of 64, one invocation per element, items (wid.y · nwg.x + wid.x) · 64 + li.

struct AdamParams {
    count: u32,
    _pad: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    c1: f32,
    c2: f32,
    _pad1: f32,
    _pad2: f32,
    _pad3: f32,
}

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> p: AdamParams;

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = (wid.y * nwg.x + wid.x) * 64u + li;
    if (i >= p.count) {
        return;
    }
    let g = grad[i];
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] -= p.lr * ((mi / p.c1) / (sqrt(vi / p.c2) + p.eps) + p.weight_decay * param[i]);
}
