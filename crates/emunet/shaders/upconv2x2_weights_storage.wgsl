// upconv2x2_weights_storage.wgsl — where upconv2x2.wgsl and upconv2x2_grad_input.wgsl read their
// weights: the packed tensor in a storage buffer (binding 1; layout in upconv2x2.wgsl). Appended
// before the variant file.

@group(0) @binding(1) var<storage, read> weight: array<vec4<f32>>;
