// loss.wgsl — the training loss on logits and its gradient: binary cross-entropy with a positive
// class weight, averaged over the batch's pixels, plus an optional soft-Jaccard term
// λ·(1 − (Σpt + 1)/(Σp + Σt − Σpt + 1)) over the whole batch (p = σ(z), t ∈ {0, 1}).
//
// Entry points (one bind group, recorded in this order):
//   partial: one invocation per chunk of `chunk` pixels: Σ bce, Σ p·t, Σ p, Σ t → chunk_sums[chunk];
//   finish:  one invocation: sums the chunks in order → sums[0..4], and the loss value in sums[4];
//   grad:    one invocation per pixel: dloss/dz, using the sums (the Jaccard term couples pixels).
//
// Bindings:
//   0 z        read        [count] f32 logits
//   1 t        read        [count] f32 targets
//   2 chunk_sums read_write [chunks] vec4<f32>
//   3 sums     read_write  [8] f32
//   4 dz       read_write  [count] f32
//   5 p        uniform     LossParams (count, chunk, pos_weight, jaccard_weight)
//
// Dispatch: workgroups of 64, items (wid.y · nwg.x + wid.x) · 64 + local index;
// partial: ceil(count / chunk) items; finish: 1; grad: count items.

struct LossParams {
    count: u32,
    chunk: u32,
    pos_weight: f32,
    jaccard_weight: f32,
}

@group(0) @binding(0) var<storage, read> z: array<f32>;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read_write> chunk_sums: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;
@group(0) @binding(4) var<storage, read_write> dz: array<f32>;
@group(0) @binding(5) var<uniform> p: LossParams;

fn sigmoid(v: f32) -> f32 {
    return 1.0 / (1.0 + exp(-v));
}

// log(1 + e^v) without overflow.
fn softplus(v: f32) -> f32 {
    return max(v, 0.0) + log(1.0 + exp(-abs(v)));
}

fn item(li: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + li;
}

@compute @workgroup_size(64, 1, 1)
fn partial(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let c = item(li, wid, nwg);
    let chunks = (p.count + p.chunk - 1u) / p.chunk;
    if (c >= chunks) {
        return;
    }
    var s = vec4<f32>(0.0);
    for (var i = c * p.chunk; i < min((c + 1u) * p.chunk, p.count); i++) {
        let zi = z[i];
        let ti = t[i];
        let pi = sigmoid(zi);
        s += vec4<f32>(p.pos_weight * ti * softplus(-zi) + (1.0 - ti) * softplus(zi), pi * ti, pi, ti);
    }
    chunk_sums[c] = s;
}

@compute @workgroup_size(1, 1, 1)
fn finish() {
    let chunks = (p.count + p.chunk - 1u) / p.chunk;
    var s = vec4<f32>(0.0);
    for (var c = 0u; c < chunks; c++) {
        s += chunk_sums[c];
    }
    sums[0] = s.x;
    sums[1] = s.y;
    sums[2] = s.z;
    sums[3] = s.w;
    let uni = s.z + s.w - s.y + 1.0;
    sums[4] = s.x / f32(p.count) + p.jaccard_weight * (1.0 - (s.y + 1.0) / uni);
}

@compute @workgroup_size(64, 1, 1)
fn grad(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = item(li, wid, nwg);
    if (i >= p.count) {
        return;
    }
    let pi = sigmoid(z[i]);
    let ti = t[i];
    var g = (p.pos_weight * ti * (pi - 1.0) + (1.0 - ti) * pi) / f32(p.count);
    if (p.jaccard_weight != 0.0) {
        let inter = sums[1] + 1.0;
        let uni = sums[2] + sums[3] - sums[1] + 1.0;
        let dj = (ti * uni - inter * (1.0 - ti)) / (uni * uni);
        g -= p.jaccard_weight * dj * pi * (1.0 - pi);
    }
    dz[i] = g;
}
