// conv3x3_head_prob_f32.wgsl — how conv3x3_head1x1.wgsl stores the probability: f32, one per pixel.
// Declares binding 4 and defines `store_prob`.

@group(0) @binding(4) var<storage, read_write> prob: array<f32>;

fn store_prob(at: u32, p: f32) {
    prob[at] = p;
}
