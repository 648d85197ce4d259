// conv3x3_head1x1.wgsl — the fused engine's last convolution: conv3x3.wgsl on a texture input
// (as conv3x3_textures.wgsl) whose epilogue applies ReLU, the 1×1 head C → 1, its bias and the
// sigmoid, and writes the probability map cropped to the frame, so the last activation is never
// stored. One invocation holds all output channels of its pixels, so C ≤ 4·OB = 16 (co4 ≤ 4).
// Declares bindings 0 (x_a), 4 (prob) and 6 (head) and defines `load_input` and `store_block`.
//
//   0 x_a    texture_2d_array<f32>  [ca4 layers][H][W]
//   4 prob   read_write  [out_h][out_w] f32 (the frame's size; padded rows/columns are cropped)
//   6 head   uniform     HeadParams: the head's weights by channel group, its bias, the frame size
//
// The head's sum runs in the order of head1x1.wgsl (vec4 accumulator over groups, then
// (x + y) + (z + w)), so the probabilities equal the per-operation engine's.

struct HeadParams {
    weight: array<vec4<f32>, 4>,
    bias: f32,
    out_h: u32,
    out_w: u32,
    _pad: u32,
}

@group(0) @binding(0) var x_a: texture_2d_array<f32>;
@group(0) @binding(4) var<storage, read_write> prob: array<f32>;
@group(0) @binding(6) var<uniform> head: HeadParams;

// Input group `ic` at (row sy, column sx); zero outside the level.
fn load_input(n: u32, sy: i32, sx: i32, ic: u32) -> vec4<f32> {
    let inside = sy >= 0 && sy < i32(p.h) && sx >= 0 && sx < i32(p.w);
    let at = vec2<i32>(clamp(sx, 0, i32(p.w) - 1), clamp(sy, 0, i32(p.h) - 1));
    return select(vec4<f32>(0.0), textureLoad(x_a, at, i32(ic), 0), inside);
}

fn store_block(n: u32, row: u32, xs: u32, oc: u32, a0: Acc, a1: Acc, a2: Acc, a3: Acc) {
    if (row >= head.out_h) {
        return;
    }
    let g = array<Acc, 4>(a0, a1, a2, a3);
    for (var i = 0u; i < PX; i++) {
        if (xs + i >= head.out_w) {
            break;
        }
        var acc = vec4<f32>(0.0);
        for (var c = 0u; c < p.co4; c++) {
            let a = g[c];
            let v = array<vec4<f32>, PX>(a.p0, a.p1, a.p2, a.p3, a.p4, a.p5, a.p6, a.p7);
            acc += head.weight[c] * max(v[i], vec4<f32>(0.0));
        }
        let logit = head.bias + (acc.x + acc.y) + (acc.z + acc.w);
        prob[row * head.out_w + xs + i] = 1.0 / (1.0 + exp(-logit));
    }
}
