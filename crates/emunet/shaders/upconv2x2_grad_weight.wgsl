// upconv2x2_grad_weight.wgsl — the up-convolution's weight and bias gradients, reduced in a fixed
// order (no float atomics).
//
// dW(oc4, ic4, t = 2a+b) = Σ_{n,i,j} outer(dy[n][2i+a][2j+b][oc4], x[n][i][j][ic4]) in the packed
// forward layout (column i = input channel, row j = output channel); db(oc4) = Σ dy[oc4].
//
// Entry points, sharing the bindings:
//   partial: one invocation per (chunk, oc4, ic4); a chunk is `rows` input rows of one image.
//   reduce:  one invocation per vec4 of grad_w / grad_b, summing the chunks in order.
//
// Bindings:
//   0 x          read        [N][H][W][ci4] vec4<f32>   the up-conv's input
//   1 dy         read        [N][2H][2W][co4] vec4<f32>
//   2 partial_w  read_write  [chunks][co4][ci4][16] vec4<f32>
//   3 partial_b  read_write  [chunks][co4] vec4<f32>
//   4 grad_w     read_write  [co4][ci4][16] vec4<f32>
//   5 grad_b     read_write  [co4] vec4<f32>
//   6 p          uniform     UpGradWeightParams (n, h, w of the input, ci4, co4, rows)
//
// Dispatch: workgroups of 64, items (wid.y · nwg.x + wid.x) · 64 + local index;
// partial: chunks · co4 · ci4 items; reduce: co4 · ci4 · 16 + co4 items.

struct UpGradWeightParams {
    n: u32,
    h: u32,
    w: u32,
    ci4: u32,
    co4: u32,
    rows: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> partial_w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> partial_b: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> grad_w: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> grad_b: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> p: UpGradWeightParams;

fn chunks() -> u32 {
    return p.n * ((p.h + p.rows - 1u) / p.rows);
}

fn outer(d: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(d * v.x, d * v.y, d * v.z, d * v.w);
}

@compute @workgroup_size(64, 1, 1)
fn partial(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let pairs = p.co4 * p.ci4;
    let item = (wid.y * nwg.x + wid.x) * 64u + li;
    if (item >= chunks() * pairs) {
        return;
    }
    let chunk = item / pairs;
    let oc = (item % pairs) / p.ci4;
    let ic = item % p.ci4;
    let bands = (p.h + p.rows - 1u) / p.rows;
    let n = chunk / bands;
    let i0 = (chunk % bands) * p.rows;
    let i1 = min(i0 + p.rows, p.h);
    let wo = 2u * p.w;
    var t0 = mat4x4<f32>();
    var t1 = mat4x4<f32>();
    var t2 = mat4x4<f32>();
    var t3 = mat4x4<f32>();
    var b = vec4<f32>(0.0);
    for (var i = i0; i < i1; i++) {
        for (var j = 0u; j < p.w; j++) {
            let v = x[((n * p.h + i) * p.w + j) * p.ci4 + ic];
            let top = (n * 2u * p.h + 2u * i) * wo + 2u * j;
            let d0 = dy[top * p.co4 + oc];
            let d1 = dy[(top + 1u) * p.co4 + oc];
            let d2 = dy[(top + wo) * p.co4 + oc];
            let d3 = dy[(top + wo + 1u) * p.co4 + oc];
            t0 += outer(d0, v);
            t1 += outer(d1, v);
            t2 += outer(d2, v);
            t3 += outer(d3, v);
            b += (d0 + d1) + (d2 + d3);
        }
    }
    let base = ((chunk * p.co4 + oc) * p.ci4 + ic) * 16u;
    for (var c = 0u; c < 4u; c++) {
        partial_w[base + c] = t0[c];
        partial_w[base + 4u + c] = t1[c];
        partial_w[base + 8u + c] = t2[c];
        partial_w[base + 12u + c] = t3[c];
    }
    if (ic == 0u) {
        partial_b[chunk * p.co4 + oc] = b;
    }
}

@compute @workgroup_size(64, 1, 1)
fn reduce(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let per_chunk = p.co4 * p.ci4 * 16u;
    let item = (wid.y * nwg.x + wid.x) * 64u + li;
    let count = chunks();
    if (item < per_chunk) {
        var s = vec4<f32>(0.0);
        for (var c = 0u; c < count; c++) {
            s += partial_w[c * per_chunk + item];
        }
        grad_w[item] = s;
    } else if (item < per_chunk + p.co4) {
        let oc = item - per_chunk;
        var s = vec4<f32>(0.0);
        for (var c = 0u; c < count; c++) {
            s += partial_b[c * p.co4 + oc];
        }
        grad_b[oc] = s;
    }
}
