// normalize.wgsl — input normalisation fused with reflect padding and tiling.
//
// mode 0 ("zscore", design.md §2): x[ty][tx] = vec4((p(fy, fx) − mean) / (std + 1e-6), 0, 0, 0);
// mode 1 ("median"): x[ty][tx] = vec4(255 · (p(fy, fx) − median) / 32, 0, 0, 0), computed from the
// raw values as (v − median_v) · 255 / (32 · (2^bits − 1)); with p = v / (2^bits − 1) and
// (fy, fx) = (oy + ty, ox + tx) the tile pixel's position in the padded frame; rows/columns past the
// frame (bottom/right padding up to a multiple of 2^D) reflect without repeating the edge pixel:
// f ≥ H ↦ 2(H − 1) − f. Channels 1..3 of the vec4 are the zero padding of the 1-channel input.
//
// Bindings:
//   0 raw    read        packed frame pixels (see frame_stats.wgsl)
//   1 stats  read        [8] f32 from frame_stats.wgsl (mean_p, 1/(std_p+1e-6), std_p, count, median_v, …)
//   2 x      read_write  [th][tw][1] vec4<f32>
//   3 p      uniform     NormalizeParams
//
// Module: frame_pixel.wgsl (reflect_index, raw_pixel, normalized) + this file.
//
// Dispatch: workgroup 8×8, one invocation per tile pixel; grid = (ceil(tw/8), ceil(th/8), 1).

struct NormalizeParams {
    h: u32,
    w: u32,
    bits: u32,
    mode: u32,
    oy: u32,
    ox: u32,
    th: u32,
    tw: u32,
}

@group(0) @binding(0) var<storage, read> raw: array<u32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: NormalizeParams;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= p.tw || gid.y >= p.th) {
        return;
    }
    let fy = reflect_index(p.oy + gid.y, p.h);
    let fx = reflect_index(p.ox + gid.x, p.w);
    let v = raw_pixel(fy * p.w + fx, p.bits);
    let value = normalized(v, p.bits, p.mode, stats[0], stats[1], stats[4]);
    x[gid.y * p.tw + gid.x] = vec4<f32>(value, 0.0, 0.0, 0.0);
}
