// frame_stats.wgsl — per-frame statistics for the z-score input normalisation, on the GPU.
//
// Two entry points sharing one bind-group layout, recorded back to back:
//   histogram: hist[v] += 1 for every pixel value v of the raw frame (integer atomics: exact and
//              order-independent, so the statistics are deterministic);
//   reduce:    one workgroup turns the histogram into mean and population std of p = v / max_value,
//              with a fixed-order tree (Kahan sums per thread, then a pairwise tree), two passes so
//              the variance is a sum of centred squares (no cancellation); and the median, the
//              ⌊(N−1)/2⌋-th smallest raw value (exact: integer counts and a prefix scan).
//
// Bindings:
//   0 raw    read        [ceil(count·bits/32)] u32   the frame's pixels, row-major, packed 4 (u8) or 2 (u16) per word
//   1 hist   read_write  [bins] atomic<u32>          bins = 2^bits; cleared by the host before `histogram`
//   2 stats  read_write  [8] f32                     mean_p, 1/(std_p + 1e-6), std_p, count,
//                                                     median (raw value), 0, 0, 0
//   3 p      uniform     FrameStatsParams
//
// Dispatch: histogram — workgroup 64, one invocation per packed word, grid (min(words/64, 65535), rows, 1)
// flattened with num_workgroups; reduce — exactly one workgroup of 256.

struct FrameStatsParams {
    count: u32,
    bits: u32,
    words: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> raw: array<u32>;
@group(0) @binding(1) var<storage, read_write> hist: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<uniform> p: FrameStatsParams;

@compute @workgroup_size(64, 1, 1)
fn histogram(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let word = gid.y * nwg.x * 64u + gid.x;
    if (word >= p.words) {
        return;
    }
    let packed = raw[word];
    let per_word = 32u / p.bits;
    let mask = (1u << p.bits) - 1u;
    for (var k = 0u; k < per_word; k++) {
        if (word * per_word + k < p.count) {
            atomicAdd(&hist[(packed >> (k * p.bits)) & mask], 1u);
        }
    }
}

const THREADS: u32 = 256u;
var<workgroup> partial: array<f32, THREADS>;
var<workgroup> mean_v: f32;
var<workgroup> counts: array<u32, THREADS>;

// Pairwise tree over `partial`, fixed order; the result lands in partial[0].
fn tree_sum(t: u32) {
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (t < stride) {
            partial[t] += partial[t + stride];
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(256, 1, 1)
fn reduce(@builtin(local_invocation_index) t: u32) {
    let bins = 1u << p.bits;
    let per_thread = bins / THREADS;
    let first = t * per_thread;

    // Pass 1: Σ count·v (in value units).
    var s = 0.0;
    var comp = 0.0;
    for (var i = 0u; i < per_thread; i++) {
        let v = f32(first + i);
        let term = f32(atomicLoad(&hist[first + i])) * v - comp;
        let next = s + term;
        comp = (next - s) - term;
        s = next;
    }
    partial[t] = s;
    tree_sum(t);
    if (t == 0u) {
        mean_v = partial[0] / f32(p.count);
    }
    workgroupBarrier();
    let m = mean_v;

    // Pass 2: Σ count·(v − mean)².
    s = 0.0;
    comp = 0.0;
    for (var i = 0u; i < per_thread; i++) {
        let d = f32(first + i) - m;
        let term = f32(atomicLoad(&hist[first + i])) * d * d - comp;
        let next = s + term;
        comp = (next - s) - term;
        s = next;
    }
    partial[t] = s;
    tree_sum(t);
    if (t == 0u) {
        let max_value = f32(bins - 1u);
        let std_p = sqrt(partial[0] / f32(p.count)) / max_value;
        stats[0] = m / max_value;
        stats[1] = 1.0 / (std_p + 1e-6);
        stats[2] = std_p;
        stats[3] = f32(p.count);
    }

    // Pass 3: the median. Inclusive prefix sums of the per-thread counts (Hillis–Steele), then
    // the thread whose range holds rank ⌊(N−1)/2⌋ walks its bins.
    var own = 0u;
    for (var i = 0u; i < per_thread; i++) {
        own += atomicLoad(&hist[first + i]);
    }
    counts[t] = own;
    for (var stride = 1u; stride < THREADS; stride *= 2u) {
        workgroupBarrier();
        let add = select(0u, counts[max(t, stride) - stride], t >= stride);
        workgroupBarrier();
        counts[t] += add;
    }
    workgroupBarrier();
    let rank = (p.count - 1u) / 2u;
    let before = counts[t] - own;
    if (rank >= before && rank < counts[t]) {
        var seen = before;
        for (var i = 0u; i < per_thread; i++) {
            seen += atomicLoad(&hist[first + i]);
            if (seen > rank) {
                stats[4] = f32(first + i);
                break;
            }
        }
    }
}
