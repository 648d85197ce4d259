// conv3x3.wgsl — 3×3 convolution, zero "same" padding, + bias, + ReLU (fused epilogue).
//
// Computes y[n][y][x][co] = relu(bias[co] + Σ_{ci,ky,kx} w[co][ci][ky][kx] · in[n][y+ky-1][x+kx-1][ci])
// where `in` is the channel concatenation [x_a, x_b] (x_a first). The decoder's first conv reads its
// skip tensor as x_a and the up-convolution output as x_b, so the concatenation is never materialised;
// the single-input form binds the same buffer twice and sets cb4 = 0.
//
// Bindings (inputs, outputs, parameters); 0, 1 and 4 are declared by the storage file (below):
//   0 x_a    read        [N][H][W][ca4] vec4<f32>   channels-last, channels packed by 4 (zero-padded)
//   1 x_b    read        [N][H][W][cb4] vec4<f32>   (unused when cb4 = 0)
//   2 weight read        (declared by the variant file: a storage buffer, or a uniform window)
//                        [co4][ca4+cb4][9] mat4x4<f32> as vec4 columns: for one (output group,
//                        input group) the nine taps (ky·3 + kx) are contiguous; column i of a block
//                        is input channel 4·ic4+i, row j output channel 4·oc4+j, so `acc += w * x`
//   3 bias   read        [co4] vec4<f32>
//   4 y      read_write  [N][H][W][co4] vec4<f32>
//   5 p      uniform     Conv3x3Params

// Dispatch: workgroups of 64 invocations; one invocation writes PX = 8 consecutive pixels of one
// row × OB = 4 vec4 groups of output channels (register blocking: each weight block is reused PX
// times, each input vec4 up to 3·OB times). The blocks of all rows are numbered row-major,
// block = (wid.y · nwg.x + wid.x) · 64 + local index, so neighbouring lanes take neighbouring
// blocks and only the last workgroup idles; grid = (gx, ceil(ceil(B/64)/gx), N·ceil(co4/4)) with
// B = ceil(W/PX)·H blocks and gx = min(ceil(B/64), 32768). Invocations past the end compute on
// clamped coordinates and store nothing, so every invocation reaches the subgroup operations of
// the subgroup variant. Padded output channels have zero weights and bias: they stay exactly 0.
//
// Module: conv3x3_blocks.wgsl + this file + a storage file + a weights file + a variant file.
// This file holds the computation; where activations live comes from the storage file, which declares bindings 0, 1
// and 4 and defines `load_input` and `store_block`:
//   conv3x3_buffers.wgsl  — storage buffers as above (training and the per-operation engine);
//   conv3x3_textures.wgsl — the fused engine: inputs are texture_2d_array<f32> (layer = channel
//                           group); lavapipe fetches texels with vector gathers but loads storage
//                           buffers lane by lane with a branch each. The fused engine's
//                           texture-to-texture convs use it with their own body,
//                           conv3x3_two_rows.wgsl (4 × 2-pixel blocks, optional 2×2 max-pool);
//   conv3x3_frame.wgsl    — the fused engine's first conv: the raw frame words in, normalised in
//                           the load, + conv3x3_texture_out.wgsl;
//   conv3x3_textures.wgsl + conv3x3_head1x1.wgsl — the fused engine's last conv: textures in, and
//                           the epilogue applies the 1×1 head and the sigmoid and writes the
//                           probability map instead.
// Where the weights are (binding 2, and `first_column`) comes from
//   conv3x3_weights_storage.wgsl — the whole tensor in a storage buffer;
//   conv3x3_weights_uniform.wgsl — a 64 KiB uniform window, one dispatch per window (the fused
//                           engine on CPU adapters, with the subgroup variant: see that file).
// The entry point `main` and `load_taps` (how the nine weight blocks reach the registers) come from
//   conv3x3_direct.wgsl   — every invocation reads the blocks from storage (GPUs: uniform loads);
//   conv3x3_subgroup.wgsl — the subgroup's first 8 lanes load the 36 vec4 columns cooperatively and
//                           subgroupBroadcast hands them out. On lavapipe a storage load is
//                           emulated lane by lane, so this is 3–4× faster there (benches/conv3x3.rs).

@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: Conv3x3Params;

const OB: u32 = 4u;

fn load_row(n: u32, sy: i32, xs: i32, ic: u32) -> Row {
    return Row(
        load_input(n, sy, xs - 1, ic),
        load_input(n, sy, xs + 0, ic),
        load_input(n, sy, xs + 1, ic),
        load_input(n, sy, xs + 2, ic),
        load_input(n, sy, xs + 3, ic),
        load_input(n, sy, xs + 4, ic),
        load_input(n, sy, xs + 5, ic),
        load_input(n, sy, xs + 6, ic),
        load_input(n, sy, xs + 7, ic),
        load_input(n, sy, xs + 8, ic),
    );
}

// The kernel body; `lane` is the invocation's subgroup lane (used by the subgroup variant).
fn kernel(li: u32, wid: vec3<u32>, nwg: vec3<u32>, lane: u32) {
    let oblocks = (p.co4 + OB - 1u) / OB;
    let n = wid.z / oblocks;
    let ob = p.ob_first + wid.z % oblocks;
    let xblocks = (p.w + PX - 1u) / PX;
    let block = (wid.y * nwg.x + wid.x) * 64u + li;
    let row = block / xblocks; // ≥ H past the last block: clamped below, never stored
    let xs = (block % xblocks) * PX;
    // Past-the-edge invocations work on clamped coordinates (their results are not stored).
    let cx = i32(min(xs, p.w - 1u));
    let cy = i32(min(row, p.h - 1u));
    let oc0 = ob * OB;
    let g0 = min(oc0, p.co4 - 1u);
    let g1 = min(oc0 + 1u, p.co4 - 1u);
    let g2 = min(oc0 + 2u, p.co4 - 1u);
    let g3 = min(oc0 + 3u, p.co4 - 1u);
    var a0 = splat(bias[g0]);
    var a1 = splat(bias[g1]);
    var a2 = splat(bias[g2]);
    var a3 = splat(bias[g3]);
    let cin4 = p.ca4 + p.cb4;
    for (var ic = 0u; ic < cin4; ic++) {
        let r0 = load_row(n, cy - 1, cx, ic);
        let r1 = load_row(n, cy, cx, ic);
        let r2 = load_row(n, cy + 1, cx, ic);
        a0 = conv_taps(a0, load_taps(g0, ic, cin4, lane), r0, r1, r2);
        a1 = conv_taps(a1, load_taps(g1, ic, cin4, lane), r0, r1, r2);
        a2 = conv_taps(a2, load_taps(g2, ic, cin4, lane), r0, r1, r2);
        a3 = conv_taps(a3, load_taps(g3, ic, cin4, lane), r0, r1, r2);
    }
    store_block(n, row, xs, oc0, a0, a1, a2, a3);
}
