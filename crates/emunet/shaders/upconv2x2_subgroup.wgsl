// upconv2x2_subgroup.wgsl — entry point and weight loading of upconv2x2.wgsl for adapters with
// subgroups of at least 8 lanes where storage loads are costly per invocation (lavapipe): lanes
// 0..7 each load 2 of the 16 vec4 columns of the four tap blocks (column k by lane k % 8 in round
// k / 8) and subgroupBroadcast hands them to all lanes. Appended
// to upconv2x2.wgsl or upconv2x2_grad_input.wgsl, whose `kernel` it calls.

fn block_lo(v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u));
}

fn block_hi(v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}

fn load_quad(oc: u32, ic: u32, lane: u32) -> Quad {
    let b = (oc * p.ci4 + ic) * 16u;
    let v0 = weight[b + (lane & 7u)];
    let v1 = weight[b + 8u + (lane & 7u)];
    return Quad(block_lo(v0), block_hi(v0), block_lo(v1), block_hi(v1));
}

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    kernel(li, wid, nwg, lane);
}
