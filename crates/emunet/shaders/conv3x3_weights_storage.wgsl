// conv3x3_weights_storage.wgsl — where conv3x3.wgsl and conv3x3_grad_input.wgsl read their
// weights: the whole packed tensor in a storage buffer (binding 2; layout in conv3x3.wgsl).
// Appended before the variant file, which loads through `first_column`.

@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;

// Index of the first of the 36 vec4 columns of (output group `oc`, input group `ic`).
fn first_column(oc: u32, ic: u32, cin4: u32) -> u32 {
    return (oc * cin4 + ic) * 36u;
}
