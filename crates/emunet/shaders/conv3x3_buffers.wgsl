// conv3x3_buffers.wgsl — where conv3x3.wgsl's activations live for training and the
// per-operation engine: storage buffers, channels-last, channels packed by 4. Declares bindings
// 0 (x_a), 1 (x_b) and 4 (y) and defines `load_input` and `store_block` (see conv3x3.wgsl).

@group(0) @binding(0) var<storage, read> x_a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x_b: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;

// Input group `ic` of the concatenation at (row sy, column sx); zero outside the frame.
fn load_input(n: u32, sy: i32, sx: i32, ic: u32) -> vec4<f32> {
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

fn store(n: u32, row: u32, xs: u32, oc: u32, a: Acc) {
    if (row >= p.h || oc >= p.co4) {
        return;
    }
    let base = (n * p.h + row) * p.w;
    let v = array<vec4<f32>, PX>(a.p0, a.p1, a.p2, a.p3, a.p4, a.p5, a.p6, a.p7);
    for (var i = 0u; i < PX; i++) {
        if (xs + i < p.w) {
            y[(base + xs + i) * p.co4 + oc] = select(v[i], max(v[i], vec4<f32>(0.0)), p.relu != 0u);
        }
    }
}

// The OB output groups oc .. oc + 3 of PX pixels (groups past co4 are not stored).
fn store_block(n: u32, row: u32, xs: u32, oc: u32, a0: Acc, a1: Acc, a2: Acc, a3: Acc) {
    store(n, row, xs, oc, a0);
    store(n, row, xs, oc + 1u, a1);
    store(n, row, xs, oc + 2u, a2);
    store(n, row, xs, oc + 3u, a3);
}
