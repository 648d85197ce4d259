// conv3x3_subgroup.wgsl — entry point and weight loading of conv3x3.wgsl and conv3x3_grad_input.wgsl for adapters with
// subgroups of at least 8 lanes where storage loads are costly per invocation (lavapipe emulates
// each one lane by lane). Lanes 0..7 of the subgroup each load 5 of the 36 vec4 columns of the
// nine blocks (column k = tap·4 + c is loaded by lane k % 8 in round k / 8) and subgroupBroadcast
// hands every column to all lanes. Appended to the op's file, whose `kernel` it calls; see that
// file for bindings and dispatch.

// Rebuilds a block from 4 columns held by lanes `first`..`first + 3` (even taps: 0..3, odd: 4..7).
fn block_lo(v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u));
}

fn block_hi(v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}

fn load_taps(oc: u32, ic: u32, cin4: u32, lane: u32) -> Taps {
    let b = first_column(oc, ic, cin4);
    let l = lane & 7u;
    let v0 = weight[b + l];
    let v1 = weight[b + 8u + l];
    let v2 = weight[b + 16u + l];
    let v3 = weight[b + 24u + l];
    let v4 = weight[b + min(32u + l, 35u)];
    return Taps(block_lo(v0), block_hi(v0), block_lo(v1), block_hi(v1), block_lo(v2), block_hi(v2), block_lo(v3), block_hi(v3), block_lo(v4));
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
