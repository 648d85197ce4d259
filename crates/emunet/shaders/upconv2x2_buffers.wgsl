// upconv2x2_buffers.wgsl — where upconv2x2.wgsl's activations live for training and the
// per-operation engine: storage buffers, channels-last, channels packed by 4. Declares bindings
// 0 (x) and 3 (y) and defines `load_x` and `store` (see upconv2x2.wgsl).

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

// Input group `ic` of input pixel (i, j).
fn load_x(n: u32, i: u32, j: u32, ic: u32) -> vec4<f32> {
    return x[((n * p.h + i) * p.w + j) * p.ci4 + ic];
}

fn store(n: u32, i: u32, j: u32, oc: u32, a: Block) {
    if (i >= p.h || j >= p.w || oc >= p.co4) {
        return;
    }
    let wo = 2u * p.w;
    let top = (n * 2u * p.h + 2u * i) * wo + 2u * j;
    y[top * p.co4 + oc] = a.t0;
    y[(top + 1u) * p.co4 + oc] = a.t1;
    y[(top + wo) * p.co4 + oc] = a.t2;
    y[(top + wo + 1u) * p.co4 + oc] = a.t3;
}

