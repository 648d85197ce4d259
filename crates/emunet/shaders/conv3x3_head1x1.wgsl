// conv3x3_head1x1.wgsl — the output half of the fused engine's last convolution, appended after
// conv3x3_textures.wgsl (its texture input) and one conv3x3_head_prob_{f32,f16,u8}.wgsl (how the
// probability is stored): the epilogue applies ReLU, the 1×1 head C → 1, its bias and the
// sigmoid, and writes the probability map and the mask (p ≥ threshold, decided on the f32
// probability before any quantisation) cropped to the frame, so the last activation is never
// stored. One invocation holds all output channels of its pixels, so C ≤ 4·OB = 16 (co4 ≤ 4).
// Declares bindings 6 (head) and 9 (mask) and defines `store_block`; the prob file declares 4.
//
//   4 prob   read_write  [out_h][out_w] probabilities (the frame's size; padded rows/columns
//                        are cropped), f32, or packed f16 / u8 (the prob file's `store_prob`)
//   6 head   uniform     HeadParams: the head's weights by channel group, its bias, the frame
//                        size and the threshold
//   9 mask   read_write  [ceil(out_h·out_w / 4)] u32: 4 pixels per word, byte k = pixel
//                        4·word + k, 0 or 255 (threshold.wgsl's layout), cleared before the pass
//
// A word of the mask (or of a packed probability) can hold pixels of two invocations (the end of
// one row and the start of the next, with an odd frame width), so those are OR-ed in atomically
// into buffers cleared before the pass.
//
// The head's sum runs in the order of head1x1.wgsl (vec4 accumulator over groups, then
// (x + y) + (z + w)), so the probabilities equal the per-operation engine's. HeadParams' weights
// past the model's channel groups are zero.

struct HeadParams {
    weight: array<vec4<f32>, 4>,
    bias: f32,
    out_h: u32,
    out_w: u32,
    threshold: f32,
}

@group(0) @binding(6) var<uniform> head: HeadParams;
@group(0) @binding(9) var<storage, read_write> mask: array<atomic<u32>>;

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
            let at = row * head.out_w + xs + i;
            let p = 1.0 / (1.0 + exp(-z[i]));
            store_prob(at, p);
            if (p >= head.threshold) {
                atomicOr(&mask[at / 4u], 255u << (8u * (at % 4u)));
            }
        }
    }
}
