// cluster_moments.wgsl — per-cluster sums of a labelling (label_components.wgsl): the GPU form of
// `clusters::Moments::accumulate` (src/emulsion/clusters.rs). Every sum is an integer, accumulated with
// integer atomics and carried into further words, so it is exact and independent of the order
// the invocations run in: the CPU turns the same sums into the same clusters, bit for bit.
//
// Per on pixel i = (x, y) of cluster k (labels[i] = k + 1), with weight w ≥ 0 (see MomentsParams) and
// W = w in units of 2^-16 (truncated; 0xffffffff from 65536 up):
//   area += 1; Σx, Σy, Σx², Σxy, Σy² (2 words each); ΣW (2 words); ΣW·x, ΣW·y (3 words each);
//   bounding box (min x, min y, max x + 1, max y + 1); peak = the largest w
//   as an order-preserving u32 key, then (entry `peaks`) the smallest index holding it.
// Row k of `table`, STRIDE u32 words: 0 area, 1–2 Σx, 3–4 Σy, 5–6 Σx², 7–8 Σxy, 9–10 Σy², 11–12 ΣW,
// 13–15 ΣW·x, 16–18 ΣW·y, 19 peak key, 20 ~peak index, 21 ~x0, 22 ~y0, 23 x1, 24 y1, 25 unused
// (multi-word sums little-endian; minima kept as the maxima of their complements, so an empty
// row is all zeros and the host clears the rows the previous frame used with clear_buffer).
//
// Entry points, recorded in this order:
//   accumulate: adds each on pixel to its row.
//   peaks:      the index of each row's peak (ties: first in raster order).
//
// Bindings:
//   0 list    read        [H·W] u32            the on pixels in raster order (label_components)
//   1 labels  read        [H·W] u32            0 = background, k = cluster k − 1
//   2 weights read        [..] u32             per MomentsParams.source: nothing, f32 bits per
//                                              pixel, or the raw frame packed 4 (u8) / 2 (u16) per word
//   3 offset  read        [..] f32             offset[p.offset_index] = the weight's offset (the
//                                              classical threshold t, the frame's median, …)
//   4 blocks  read        [nblocks + 2] u32    label_components' blocks: [nblocks + 1] = the list's
//                                              length
//   5 table   read_write  [capacity][STRIDE] atomic<u32>
//   6 p       uniform     MomentsParams
//
// Dispatch: workgroup 64, one per block of BLOCK = 2048 entries of label_components' list of on
// pixels (blocks numbered wid.y · nwg.x + wid.x; blocks past the list's end return at once), lane
// li taking entries 32·li … 32·li + 31 of the block. A lane sums each run of on pixels of one
// cluster in one row in registers and adds the run to the table with one set of atomics
// (atomics are the dear part on a software driver).

struct MomentsParams {
    w: u32,
    h: u32,
    capacity: u32,
    nblocks: u32,
    // 0: every weight 1; 1: weights[i] holds the f32 value v; 2: v is the raw frame pixel.
    source: u32,
    bits: u32,
    offset_index: u32,
    // w = max(0, v − offset) when 1, max(0, offset − v) when 0.
    above: u32,
}

@group(0) @binding(0) var<storage, read> list: array<u32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> weights: array<u32>;
@group(0) @binding(3) var<storage, read> offset: array<f32>;
@group(0) @binding(4) var<storage, read> blocks: array<u32>;
@group(0) @binding(5) var<storage, read_write> table: array<atomic<u32>>;
@group(0) @binding(6) var<uniform> p: MomentsParams;

const STRIDE: u32 = 26u;
const NONE: u32 = 0xffffffffu;
const BLOCK: u32 = 2048u;
const PER_INVOCATION: u32 = 32u;

// The pixel's weight w.
fn weight(i: u32) -> f32 {
    if (p.source == 0u) {
        return 1.0;
    }
    var v: f32;
    if (p.source == 1u) {
        v = bitcast<f32>(weights[i]);
    } else {
        let per_word = 32u / p.bits;
        let word = weights[i / per_word];
        v = f32((word >> ((i % per_word) * p.bits)) & ((1u << p.bits) - 1u));
    }
    let o = offset[p.offset_index];
    let d = select(o - v, v - o, p.above == 1u);
    // As `clusters::Moments::add`: 0 for d ≤ 0 and NaN, and never −0.
    return select(0.0, d, d > 0.0);
}

// W: w in units of 2^-16, truncated (as `clusters::fixed_weight`).
fn fixed(w: f32) -> u32 {
    let s = w * 65536.0;
    if (!(s > 0.0)) {
        return 0u;
    }
    if (s >= 4294967040.0) {
        return NONE;
    }
    return u32(s);
}

// An order-preserving key of an f32 (larger value, larger key; as `clusters::peak_key`).
fn peak_key(w: f32) -> u32 {
    let b = bitcast<u32>(w);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// a · b as (low word, high word), for b < 2^16.
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let low = (a & 0xffffu) * b;
    let high = (a >> 16u) * b;
    let lo = low + (high << 16u);
    let carry = select(0u, 1u, lo < low);
    return vec2<u32>(lo, (high >> 16u) + carry);
}

// Adds (lo, hi) to the `words`-word integer at table[slot..]; the carries are added to the next
// word by the invocation that caused them, so concurrent adds sum exactly.
fn add_wide(slot: u32, lo: u32, hi: u32, words: u32) {
    var carry = 0u;
    if (lo != 0u) {
        let old = atomicAdd(&table[slot], lo);
        carry = select(0u, 1u, old + lo < old);
    }
    // hi < 2^21 here (see flush), so hi + carry does not wrap.
    let up = hi + carry;
    if (up != 0u) {
        let old = atomicAdd(&table[slot + 1u], up);
        if (words == 3u && old + up < old) {
            atomicAdd(&table[slot + 2u], 1u);
        }
    }
}

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

// A run of on pixels of one cluster in one row: x0 ≤ x < x1 on row y, and its sums.
struct Run {
    label: u32,
    y: u32,
    x0: u32,
    x1: u32,
    n: u32,
    sx: u32,
    sxx: vec2<u32>,
    sw: vec2<u32>,
    swx: vec2<u32>,
    // The largest peak key and its first pixel.
    key: u32,
    peak: u32,
}

// Adds a run to its table row (accumulate), or offers its peak pixel (peaks). Every high word
// below is < 2^21 (runs of at most 32 pixels), as add_wide needs.
fn flush(r: Run, peaks: bool) {
    if (r.label == 0u) {
        return;
    }
    let row = (r.label - 1u) * STRIDE;
    if (peaks) {
        if (r.key == atomicLoad(&table[row + 19u])) {
            atomicMax(&table[row + 20u], ~r.peak);
        }
        return;
    }
    atomicAdd(&table[row], r.n);
    add_wide(row + 1u, r.sx, 0u, 2u);
    add_wide(row + 3u, r.y * r.n, 0u, 2u);
    add_wide(row + 5u, r.sxx.x, r.sxx.y, 2u);
    let sxy = mul_wide(r.sx, r.y);
    add_wide(row + 7u, sxy.x, sxy.y, 2u);
    let syy = mul_wide(r.y * r.y, r.n);
    add_wide(row + 9u, syy.x, syy.y, 2u);
    add_wide(row + 11u, r.sw.x, r.sw.y, 2u);
    add_wide(row + 13u, r.swx.x, r.swx.y, 3u);
    let swy = mul_wide(r.sw.x, r.y);
    add_wide(row + 16u, swy.x, swy.y + r.sw.y * r.y, 3u);
    atomicMax(&table[row + 19u], r.key);
    atomicMax(&table[row + 21u], ~r.x0);
    atomicMax(&table[row + 22u], ~r.y);
    atomicMax(&table[row + 23u], r.x1);
    atomicMax(&table[row + 24u], r.y + 1u);
}

// Walks this lane's list entries as runs, flushing each.
fn walk_runs(li: u32, block: u32, peaks: bool) {
    let first = block * BLOCK + li * PER_INVOCATION;
    let end = min(first + PER_INVOCATION, blocks[p.nblocks + 1u]);
    var r: Run;
    for (var e = first; e < end; e++) {
        let i = list[e];
        let label = labels[i];
        if (label == 0u || label > p.capacity) {
            continue;
        }
        let x = i % p.w;
        let y = i / p.w;
        if (label != r.label || y != r.y || x != r.x1) {
            flush(r, peaks);
            r = Run(label, y, x, x, 0u, 0u, vec2<u32>(0u), vec2<u32>(0u), vec2<u32>(0u), 0u, i);
        }
        let w = weight(i);
        let fw = fixed(w);
        let key = peak_key(w);
        r.x1 = x + 1u;
        r.n += 1u;
        r.sx += x;
        r.sxx = add64(r.sxx, vec2<u32>(x * x, 0u));
        r.sw = add64(r.sw, vec2<u32>(fw, 0u));
        r.swx = add64(r.swx, mul_wide(fw, x));
        if (r.n == 1u || key > r.key) {
            r.key = key;
            r.peak = i;
        }
    }
    flush(r, peaks);
}

@compute @workgroup_size(64, 1, 1)
fn accumulate(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    walk_runs(li, wid.y * nwg.x + wid.x, false);
}

@compute @workgroup_size(64, 1, 1)
fn peaks(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    walk_runs(li, wid.y * nwg.x + wid.x, true);
}
