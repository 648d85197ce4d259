// conv3x3_head1x1.wgsl — the output half of the fused engine's last convolution, appended after
// conv3x3_textures.wgsl (its texture input): the epilogue applies ReLU, the 1×1 head C → 1, its
// bias and the sigmoid, and writes the probability map cropped to the frame, so the last
// activation is never stored. One invocation holds all output channels of its pixels, so
// C ≤ 4·OB = 16 (co4 ≤ 4). Declares bindings 4 (prob) and 6 (head) and defines `store_block`.
//
//   4 prob   read_write  [out_h][out_w] f32 (the frame's size; padded rows/columns are cropped)
//   6 head   uniform     HeadParams: the head's weights by channel group, its bias, the frame size
//
// The head's sum runs in the order of head1x1.wgsl (vec4 accumulator over groups, then
// (x + y) + (z + w)), so the probabilities equal the per-operation engine's. HeadParams' weights
// past the model's channel groups are zero.

struct HeadParams {
    weight: array<vec4<f32>, 4>,
    bias: f32,
    out_h: u32,
    out_w: u32,
    _pad: u32,
}

@group(0) @binding(4) var<storage, read_write> prob: array<f32>;
@group(0) @binding(6) var<uniform> head: HeadParams;

// The logit of one pixel from its four output groups (groups past co4 meet zero head weights,
// adding exact zeros after the real terms).
fn logit(x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>) -> f32 {
    var acc = vec4<f32>(0.0);
    acc += head.weight[0] * max(x0, vec4<f32>(0.0));
    acc += head.weight[1] * max(x1, vec4<f32>(0.0));
    acc += head.weight[2] * max(x2, vec4<f32>(0.0));
    acc += head.weight[3] * max(x3, vec4<f32>(0.0));
    return head.bias + (acc.x + acc.y) + (acc.z + acc.w);
}

fn store_block(n: u32, row: u32, xs: u32, oc: u32, a0: Acc, a1: Acc, a2: Acc, a3: Acc) {
    if (row >= head.out_h) {
        return;
    }
    let z = array<f32, PX>(
        logit(a0.p0, a1.p0, a2.p0, a3.p0),
        logit(a0.p1, a1.p1, a2.p1, a3.p1),
        logit(a0.p2, a1.p2, a2.p2, a3.p2),
        logit(a0.p3, a1.p3, a2.p3, a3.p3),
        logit(a0.p4, a1.p4, a2.p4, a3.p4),
        logit(a0.p5, a1.p5, a2.p5, a3.p5),
        logit(a0.p6, a1.p6, a2.p6, a3.p6),
        logit(a0.p7, a1.p7, a2.p7, a3.p7),
    );
    for (var i = 0u; i < PX; i++) {
        if (xs + i < head.out_w) {
            prob[row * head.out_w + xs + i] = 1.0 / (1.0 + exp(-z[i]));
        }
    }
}
