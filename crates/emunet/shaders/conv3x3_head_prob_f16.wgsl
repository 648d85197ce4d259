// conv3x3_head_prob_f16.wgsl — how conv3x3_head1x1.wgsl stores the probability: f16 (IEEE binary16
// bits), two pixels per word, pixel 2·word + k in bits 16k..16k+15; half the readback of f32.
// Declares binding 4 (cleared before the pass; words shared by two invocations are OR-ed in) and
// defines `store_prob`.

@group(0) @binding(4) var<storage, read_write> prob: array<atomic<u32>>;

fn store_prob(at: u32, p: f32) {
    let half = pack2x16float(vec2<f32>(p, 0.0));
    if (half != 0u) {
        atomicOr(&prob[at / 2u], half << (16u * (at % 2u)));
    }
}
