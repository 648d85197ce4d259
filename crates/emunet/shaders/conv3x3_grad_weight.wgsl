// conv3x3_grad_weight.wgsl — conv3x3's weight and bias gradients, ReLU mask fused, reduced in a
// fixed order (no float atomics: the same inputs give the same bits on a given adapter).
//
// dz = dy where the forward output y > 0 (dy itself when relu = 0);
// dW(oc4, ic4, tap) = Σ_{n,y,x} outer(dz[n][y][x][oc4], in[n][y+ky−1][x+kx−1][ic4]) in the packed
// forward layout (column i = input channel, row j = output channel), db(oc4) = Σ dz[oc4], where
// `in` is the concatenation [x_a, x_b] with zeros outside the frame.
//
// Two entry points share the bindings:
//   partial: one invocation per (chunk, oc4, ic4); a chunk is `rows` rows of one image. Writes the
//            chunk's sums of the nine blocks to partial_w and, for ic4 = 0, of dz to partial_b.
//   reduce:  one invocation per vec4 of grad_w / grad_b: the chunks' partial sums, in chunk order.
//
// Bindings:
//   0 x_a        read        [N][H][W][ca4] vec4<f32>
//   1 x_b        read        [N][H][W][cb4] vec4<f32>     (x_a again when cb4 = 0)
//   2 dy         read        [N][H][W][co4] vec4<f32>
//   3 y          read        [N][H][W][co4] vec4<f32>     forward output (ReLU mask)
//   4 partial_w  read_write  [chunks][co4][cin4][36] vec4<f32>
//   5 partial_b  read_write  [chunks][co4] vec4<f32>
//   6 grad_w     read_write  [co4][cin4][36] vec4<f32>    (the forward weight layout)
//   7 grad_b     read_write  [co4] vec4<f32>
//   8 p          uniform     GradWeightParams
//
// Dispatch: workgroups of 64, items numbered (wid.y · nwg.x + wid.x) · 64 + local index;
// partial: chunks · co4 · cin4 items; reduce: co4 · cin4 · 36 + co4 items.

struct GradWeightParams {
    n: u32,
    h: u32,
    w: u32,
    ca4: u32,
    cb4: u32,
    co4: u32,
    relu: u32,
    rows: u32,
}

@group(0) @binding(0) var<storage, read> x_a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x_b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> y: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> partial_w: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> partial_b: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> grad_w: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> grad_b: array<vec4<f32>>;
@group(0) @binding(8) var<uniform> p: GradWeightParams;

fn chunks() -> u32 {
    return p.n * ((p.h + p.rows - 1u) / p.rows);
}

fn load_in(n: u32, sy: i32, sx: i32, ic: u32) -> vec4<f32> {
    let inside = sy >= 0 && sy < i32(p.h) && sx >= 0 && sx < i32(p.w);
    let pix = (n * p.h + u32(clamp(sy, 0, i32(p.h) - 1))) * p.w + u32(clamp(sx, 0, i32(p.w) - 1));
    var v: vec4<f32>;
    if (ic < p.ca4) {
        v = x_a[pix * p.ca4 + ic];
    } else {
        v = x_b[pix * p.cb4 + (ic - p.ca4)];
    }
    return select(vec4<f32>(0.0), v, inside);
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
    let cin4 = p.ca4 + p.cb4;
    let pairs = p.co4 * cin4;
    let item = (wid.y * nwg.x + wid.x) * 64u + li;
    if (item >= chunks() * pairs) {
        return;
    }
    let chunk = item / pairs;
    let oc = (item % pairs) / cin4;
    let ic = item % cin4;
    let bands = (p.h + p.rows - 1u) / p.rows;
    let n = chunk / bands;
    let y0 = (chunk % bands) * p.rows;
    let y1 = min(y0 + p.rows, p.h);
    var t: array<mat4x4<f32>, 9>;
    for (var k = 0u; k < 9u; k++) {
        t[k] = mat4x4<f32>();
    }
    var b = vec4<f32>(0.0);
    for (var row = y0; row < y1; row++) {
        for (var col = 0u; col < p.w; col++) {
            let i = ((n * p.h + row) * p.w + col) * p.co4 + oc;
            let d = select(dy[i], select(vec4<f32>(0.0), dy[i], y[i] > vec4<f32>(0.0)), p.relu != 0u);
            b += d;
            let r = i32(row);
            let c = i32(col);
            t[0] += outer(d, load_in(n, r - 1, c - 1, ic));
            t[1] += outer(d, load_in(n, r - 1, c, ic));
            t[2] += outer(d, load_in(n, r - 1, c + 1, ic));
            t[3] += outer(d, load_in(n, r, c - 1, ic));
            t[4] += outer(d, load_in(n, r, c, ic));
            t[5] += outer(d, load_in(n, r, c + 1, ic));
            t[6] += outer(d, load_in(n, r + 1, c - 1, ic));
            t[7] += outer(d, load_in(n, r + 1, c, ic));
            t[8] += outer(d, load_in(n, r + 1, c + 1, ic));
        }
    }
    let base = ((chunk * p.co4 + oc) * cin4 + ic) * 36u;
    for (var k = 0u; k < 9u; k++) {
        for (var c = 0u; c < 4u; c++) {
            partial_w[base + 4u * k + c] = t[k][c];
        }
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
    let per_chunk = p.co4 * (p.ca4 + p.cb4) * 36u;
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
