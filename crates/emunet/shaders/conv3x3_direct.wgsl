// conv3x3_direct.wgsl — entry point and weight loading of conv3x3.wgsl and conv3x3_grad_input.wgsl for adapters where every
// invocation reading the same weight block is cheap (GPUs: uniform loads through the cache).
// Appended to the op's file, whose `kernel` it calls; see that file for bindings and dispatch.

// The nine weight blocks of output group `oc`, input group `ic`.
fn load_taps(oc: u32, ic: u32, cin4: u32, lane: u32) -> Taps {
    let b = first_column(oc, ic, cin4);
    return Taps(
        mat4x4<f32>(weight[b], weight[b + 1u], weight[b + 2u], weight[b + 3u]),
        mat4x4<f32>(weight[b + 4u], weight[b + 5u], weight[b + 6u], weight[b + 7u]),
        mat4x4<f32>(weight[b + 8u], weight[b + 9u], weight[b + 10u], weight[b + 11u]),
        mat4x4<f32>(weight[b + 12u], weight[b + 13u], weight[b + 14u], weight[b + 15u]),
        mat4x4<f32>(weight[b + 16u], weight[b + 17u], weight[b + 18u], weight[b + 19u]),
        mat4x4<f32>(weight[b + 20u], weight[b + 21u], weight[b + 22u], weight[b + 23u]),
        mat4x4<f32>(weight[b + 24u], weight[b + 25u], weight[b + 26u], weight[b + 27u]),
        mat4x4<f32>(weight[b + 28u], weight[b + 29u], weight[b + 30u], weight[b + 31u]),
        mat4x4<f32>(weight[b + 32u], weight[b + 33u], weight[b + 34u], weight[b + 35u]),
    );
}

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    kernel(li, wid, nwg, 0u);
}
