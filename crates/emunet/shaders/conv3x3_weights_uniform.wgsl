// conv3x3_weights_uniform.wgsl — conv3x3.wgsl's weights in a 64 KiB uniform-buffer window
// (binding 2), for the fused engine on CPU adapters: lavapipe emulates a storage-buffer load lane by
// lane, and even a uniform load costs a gather, so the subgroup variant's lanes 0..7 load distinct
// columns of a uniform window and broadcast them (1.5× the storage form on a 16→16 conv there).
// The window holds the weights of output blocks ob_first, ob_first + 1, …: as many whole blocks
// of OB output groups as fit in 4096 vec4 (cin4 ≤ 28), so a conv with more runs one dispatch per
// window (grid z = the window's blocks; batch 1), each binding the packed tensor at offset
// ob_first · OB · cin4 · 36 vec4 (the buffer is padded by 64 KiB so every window is whole).

@group(0) @binding(2) var<uniform> weight: array<vec4<f32>, 4096>;

// Index, within the window, of the first of the 36 vec4 columns of (output group `oc`, input
// group `ic`).
fn first_column(oc: u32, ic: u32, cin4: u32) -> u32 {
    return ((oc - p.ob_first * OB) * cin4 + ic) * 36u;
}
