// conv3x3_two_rows_nopool.wgsl — conv3x3_two_rows.wgsl without a pool: every fused texture conv
// but the encoder's conv2.

fn pool_block(row: u32, xs: u32, oc: u32, t: array<vec4<f32>, PW>, b: array<vec4<f32>, PW>) {}
