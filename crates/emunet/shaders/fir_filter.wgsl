// fir_filter.wgsl — the classical pipeline's equalisation and zero-sum FIR high-pass filter.
//
// r[y][x] = gain · scale · Σ_{v,u} taps[v][u] · v_raw(x + u + o, y + v + o),
// with gain = 220 / median (the median from frame_stats.wgsl), so the equalised frame's median is
// 220 at any bit depth; when equalisation is off or the median is below 64 (in 8-bit units),
// gain = 255 / max_value instead. u, v ∈ 0..k−1 and o = p.offset (−3 for FEDRA's even 6×6,
// −k/2 for odd centred kernels). Taps outside the frame read the nearest edge pixel. The taps are
// integers whose sign makes dark grains positive; the sum is accumulated exactly in i32 (|Σ| < 2^24
// even for 16-bit frames, so its f32 conversion is exact too), and the kernel's scale (FEDRA: 1/12)
// and the gain are applied once: the response carries a single rounding.
//
// Bindings:
//   0 raw    read        packed frame pixels (4 u8 or 2 u16 per u32, row-major)
//   1 stats  read        [8] f32 from frame_stats.wgsl; stats[4] = median (raw value units)
//   2 taps   uniform     FirTaps: row v's taps u = 0..3 in rows[2v], u = 4, 5 in rows[2v + 1].xy;
//                        k ≤ 6, taps past k are zero (a smaller kernel runs as a 6×6 one whose
//                        extra taps add exact zeros)
//   3 r      read_write  [H][W] f32 filter response
//   4 p      uniform     FirFilterParams
//
// Module: frame_pixel.wgsl (raw_pixel) + this file.
//
// Dispatch: workgroup 64; one invocation writes PX = 8 adjacent outputs of one row, reading the
// 6 × 13 pixels they share once (on lavapipe every storage load is emulated lane by lane, so this
// is the cost that matters) and the taps as uniforms at constant offsets. Blocks are numbered
// row-major over the flattened grid: block = (wid.y · nwg.x + wid.x) · 64 + local index,
// B = ceil(W/8)·H blocks.

struct FirFilterParams {
    w: u32,
    h: u32,
    bits: u32,
    k: u32,
    offset: i32,
    equalise: u32,
    scale: f32,
    _pad: u32,
}

struct FirTaps {
    rows: array<vec4<i32>, 12>,
}

@group(0) @binding(0) var<storage, read> raw: array<u32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<uniform> taps: FirTaps;
@group(0) @binding(3) var<storage, read_write> r: array<f32>;
@group(0) @binding(4) var<uniform> p: FirFilterParams;

const PX: u32 = 8u;

fn pixel(x: i32, y: i32) -> i32 {
    let cx = u32(clamp(x, 0, i32(p.w) - 1));
    let cy = u32(clamp(y, 0, i32(p.h) - 1));
    return i32(raw_pixel(cy * p.w + cx, p.bits));
}

// The tap sums of outputs x0 .. x0 + 7 (lo: 0..3, hi: 4..7).
struct Sums {
    lo: vec4<i32>,
    hi: vec4<i32>,
}

// Adds one kernel row: tap u of output j reads pixel x0 + j + u + offset of row y.
fn add_row(s: Sums, y: i32, xs: i32, t: vec4<i32>, t45: vec4<i32>) -> Sums {
    let q0 = vec4<i32>(pixel(xs, y), pixel(xs + 1, y), pixel(xs + 2, y), pixel(xs + 3, y));
    let q4 = vec4<i32>(pixel(xs + 4, y), pixel(xs + 5, y), pixel(xs + 6, y), pixel(xs + 7, y));
    let q8 = vec4<i32>(pixel(xs + 8, y), pixel(xs + 9, y), pixel(xs + 10, y), pixel(xs + 11, y));
    let q12 = pixel(xs + 12, y);
    // Windows starting at pixel u (lo) and u + 4 (hi).
    let w1 = vec4<i32>(q0.yzw, q4.x);
    let w2 = vec4<i32>(q0.zw, q4.xy);
    let w3 = vec4<i32>(q0.w, q4.xyz);
    let w5 = vec4<i32>(q4.yzw, q8.x);
    let w6 = vec4<i32>(q4.zw, q8.xy);
    let w7 = vec4<i32>(q4.w, q8.xyz);
    let w9 = vec4<i32>(q8.yzw, q12);
    let lo = s.lo + t.x * q0 + t.y * w1 + t.z * w2 + t.w * w3 + t45.x * q4 + t45.y * w5;
    let hi = s.hi + t.x * q4 + t.y * w5 + t.z * w6 + t.w * w7 + t45.x * q8 + t45.y * w9;
    return Sums(lo, hi);
}

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let xblocks = (p.w + PX - 1u) / PX;
    let block = (wid.y * nwg.x + wid.x) * 64u + li;
    let y = block / xblocks;
    if (y >= p.h) {
        return;
    }
    let x0 = (block % xblocks) * PX;
    let median = stats[4];
    let max_value = f32((1u << p.bits) - 1u);
    let equalise = p.equalise != 0u && median * 255.0 / max_value >= 64.0;
    let gain = select(255.0 / max_value, 220.0 / median, equalise);
    let xs = i32(x0) + p.offset;
    let ys = i32(y) + p.offset;
    var s = Sums(vec4<i32>(0), vec4<i32>(0));
    s = add_row(s, ys, xs, taps.rows[0], taps.rows[1]);
    s = add_row(s, ys + 1, xs, taps.rows[2], taps.rows[3]);
    s = add_row(s, ys + 2, xs, taps.rows[4], taps.rows[5]);
    s = add_row(s, ys + 3, xs, taps.rows[6], taps.rows[7]);
    s = add_row(s, ys + 4, xs, taps.rows[8], taps.rows[9]);
    s = add_row(s, ys + 5, xs, taps.rows[10], taps.rows[11]);
    let f = gain * p.scale;
    let v = array<i32, PX>(s.lo.x, s.lo.y, s.lo.z, s.lo.w, s.hi.x, s.hi.y, s.hi.z, s.hi.w);
    for (var j = 0u; j < PX; j++) {
        if (x0 + j < p.w) {
            r[y * p.w + x0 + j] = f32(v[j]) * f;
        }
    }
}
