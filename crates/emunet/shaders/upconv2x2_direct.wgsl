// upconv2x2_direct.wgsl — entry point and weight loading of upconv2x2.wgsl for adapters where
// every invocation reading the same weight block is cheap (GPUs). Appended
// to upconv2x2.wgsl or upconv2x2_grad_input.wgsl, whose `kernel` it calls.

// The four tap blocks of output group `oc`, input group `ic`.
fn load_quad(oc: u32, ic: u32, lane: u32) -> Quad {
    let b = (oc * p.ci4 + ic) * 16u;
    return Quad(
        mat4x4<f32>(weight[b], weight[b + 1u], weight[b + 2u], weight[b + 3u]),
        mat4x4<f32>(weight[b + 4u], weight[b + 5u], weight[b + 6u], weight[b + 7u]),
        mat4x4<f32>(weight[b + 8u], weight[b + 9u], weight[b + 10u], weight[b + 11u]),
        mat4x4<f32>(weight[b + 12u], weight[b + 13u], weight[b + 14u], weight[b + 15u]),
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
