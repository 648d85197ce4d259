// upconv2x2_weights_uniform.wgsl — upconv2x2.wgsl's weights in a 64 KiB uniform buffer (binding 1)
// for the fused engine on CPU adapters, with the subgroup variant (lanes 0..7 load distinct
// columns, subgroupBroadcast hands them out): lavapipe turns every weight load into gathers, and a
// uniform one costs far less than a storage one (see conv3x3_weights_uniform.wgsl). The whole
// tensor must fit (co4 · ci4 ≤ 256, e.g. 64 → 32 channels); the buffer is at least 64 KiB.

@group(0) @binding(1) var<uniform> weight: array<vec4<f32>, 4096>;
