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
//   2 taps   read        [k·k] i32, row-major
//   3 r      read_write  [H][W] f32 filter response
//   4 p      uniform     FirFilterParams
//
// Dispatch: workgroup 64, one invocation per output pixel; rows numbered row-major over the
// flattened grid (wid.y · nwg.x + wid.x) · 64 + local index.

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

@group(0) @binding(0) var<storage, read> raw: array<u32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> taps: array<i32>;
@group(0) @binding(3) var<storage, read_write> r: array<f32>;
@group(0) @binding(4) var<uniform> p: FirFilterParams;

fn pixel(x: i32, y: i32) -> i32 {
    let cx = u32(clamp(x, 0, i32(p.w) - 1));
    let cy = u32(clamp(y, 0, i32(p.h) - 1));
    let i = cy * p.w + cx;
    let per_word = 32u / p.bits;
    let mask = (1u << p.bits) - 1u;
    return i32((raw[i / per_word] >> ((i % per_word) * p.bits)) & mask);
}

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = (wid.y * nwg.x + wid.x) * 64u + li;
    if (i >= p.w * p.h) {
        return;
    }
    let x = i32(i % p.w);
    let y = i32(i / p.w);
    let median = stats[4];
    let max_value = f32((1u << p.bits) - 1u);
    let equalise = p.equalise != 0u && median * 255.0 / max_value >= 64.0;
    let gain = select(255.0 / max_value, 220.0 / median, equalise);
    var acc = 0;
    for (var v = 0u; v < p.k; v++) {
        for (var u = 0u; u < p.k; u++) {
            acc += taps[v * p.k + u] * pixel(x + i32(u) + p.offset, y + i32(v) + p.offset);
        }
    }
    r[i] = f32(acc) * (gain * p.scale);
}
