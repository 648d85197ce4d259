// conv3x3_frame.wgsl — the fused engine's first convolution reads the camera frame itself:
// conv3x3.wgsl whose `load_input` unpacks the raw 8/16-bit pixel words, reflects the padding rows
// and columns past the frame and normalises exactly as normalize.wgsl does (mode 0 "zscore",
// 1 "median"; both through frame_pixel.wgsl, prepended to the module), so no normalised copy of the frame is ever written. The output is a write-only
// rgba32float storage texture array (conv3x3_texture_out.wgsl, appended after this file).
// Declares bindings 0 (raw) and 7 (frame) and defines `load_input`. ca4 = 1, cb4 = 0, batch 1.
//
//   0 raw    read        packed frame pixels (see frame_stats.wgsl)
//   4 y      texture_storage_2d_array<rgba32float, write>  [co4 layers][H][W] (H, W: padded frame)
//   7 frame  uniform     FrameParams: the frame's own size (h, w), bits, mode, and the 8 statistics
//                        frame_stats.wgsl wrote (copied in on the GPU before this pass)

struct FrameParams {
    h: u32,
    w: u32,
    bits: u32,
    mode: u32,
    // mean_p, 1/(std_p + 1e-6), std_p, count | median_v, …
    stats: array<vec4<f32>, 2>,
}

@group(0) @binding(0) var<storage, read> raw: array<u32>;
@group(0) @binding(7) var<uniform> frame: FrameParams;

// The normalised pixel at (row sy, column sx) of the padded frame as channel 0; zero outside it.
fn load_input(n: u32, sy: i32, sx: i32, ic: u32) -> vec4<f32> {
    let inside = sy >= 0 && sy < i32(p.h) && sx >= 0 && sx < i32(p.w);
    let fy = reflect_index(u32(clamp(sy, 0, i32(p.h) - 1)), frame.h);
    let fx = reflect_index(u32(clamp(sx, 0, i32(p.w) - 1)), frame.w);
    let v = raw_pixel(fy * frame.w + fx, frame.bits);
    let s = frame.stats;
    let value = normalized(v, frame.bits, frame.mode, s[0].x, s[0].y, s[1].x);
    return select(vec4<f32>(0.0), vec4<f32>(value, 0.0, 0.0, 0.0), inside);
}
