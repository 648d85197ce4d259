// cluster_moments.wgsl — per-cluster sums of a labelling (label_components.wgsl): the GPU form of
// `clusters::Moments::accumulate` (src/clusters.rs). Every sum is an integer, accumulated with
// integer atomics and carried into further words, so it is exact and independent of the order
// the invocations run in: the CPU turns the same sums into the same clusters, bit for bit.
//
// Per on pixel i = (x, y) of cluster k (labels[i] = k + 1), with weight w ≥ 0 (see MomentsParams) and
// W = w in units of 2^-16 (truncated; 0xffffffff from 65536 up):
//   area += 1; Σx, Σy, Σx², Σxy, Σy² (2 words each); ΣW (2 words); ΣW·x, ΣW·y (3 words each);
//   bounding box (min x, min y, max x + 1, max y + 1); peak = the largest w
//   as an order-preserving u32 key, then (entry `peaks`) the smallest index holding it.
// Row k of `table`, STRIDE u32 words: 0 area, 1–2 Σx, 3–4 Σy, 5–6 Σx², 7–8 Σxy, 9–10 Σy², 11–12 ΣW,
// 13–15 ΣW·x, 16–18 ΣW·y, 19 peak key, 20 peak index, 21 x0, 22 y0, 23 x1, 24 y1, 25 unused
// (multi-word sums little-endian).
//
// Entry points, recorded in this order:
//   clear:      rows 0..count (count = total[0], from label_components' scan) to their empty values.
//   accumulate: one invocation per pixel.
//   peaks:      one invocation per pixel: index of the peak (ties: first in raster order).
//
// Bindings:
//   0 labels  read        [H·W] u32            0 = background, k = cluster k − 1
//   1 weights read        [..] u32             per MomentsParams.source: nothing, f32 bits per
//                                              pixel, or the raw frame packed 4 (u8) / 2 (u16) per word
//   2 offset  read        [..] f32             offset[p.offset_index] = the weight's offset (the
//                                              classical threshold t, the frame's median, …)
//   3 total   read        [nblocks + 1] u32    label_components' blocks: the count at index p.nblocks
//   4 table   read_write  [capacity][STRIDE] atomic<u32>
//   5 p       uniform     MomentsParams
//
// Dispatch: workgroup 64; accumulate and peaks one invocation per pixel, clear one per table row
// of the capacity; invocations numbered (wid.y · nwg.x + wid.x) · 64 + local index.

struct MomentsParams {
    w: u32,
    h: u32,
    nblocks: u32,
    capacity: u32,
    // 0: every weight 1; 1: weights[i] holds the f32 value v; 2: v is the raw frame pixel.
    source: u32,
    bits: u32,
    offset_index: u32,
    // w = max(0, v − offset) when 1, max(0, offset − v) when 0.
    above: u32,
}

@group(0) @binding(0) var<storage, read> labels: array<u32>;
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> offset: array<f32>;
@group(0) @binding(3) var<storage, read> total: array<u32>;
@group(0) @binding(4) var<storage, read_write> table: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> p: MomentsParams;

const STRIDE: u32 = 26u;
const NONE: u32 = 0xffffffffu;

fn index(li: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + li;
}

@compute @workgroup_size(64, 1, 1)
fn clear(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let k = index(li, wid, nwg);
    if (k >= min(total[p.nblocks], p.capacity)) {
        return;
    }
    let row = k * STRIDE;
    for (var j = 0u; j < STRIDE; j++) {
        atomicStore(&table[row + j], 0u);
    }
    atomicStore(&table[row + 20u], NONE);
    atomicStore(&table[row + 21u], NONE);
    atomicStore(&table[row + 22u], NONE);
}

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
    // hi < 2^16 here, so hi + carry does not wrap.
    let up = hi + carry;
    if (up != 0u) {
        let old = atomicAdd(&table[slot + 1u], up);
        if (words == 3u && old + up < old) {
            atomicAdd(&table[slot + 2u], 1u);
        }
    }
}

@compute @workgroup_size(64, 1, 1)
fn accumulate(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = index(li, wid, nwg);
    if (i >= p.w * p.h) {
        return;
    }
    let label = labels[i];
    if (label == 0u || label > p.capacity) {
        return;
    }
    let row = (label - 1u) * STRIDE;
    let x = i % p.w;
    let y = i / p.w;
    let w = weight(i);
    let fw = fixed(w);
    atomicAdd(&table[row], 1u);
    add_wide(row + 1u, x, 0u, 2u);
    add_wide(row + 3u, y, 0u, 2u);
    add_wide(row + 5u, x * x, 0u, 2u);
    add_wide(row + 7u, x * y, 0u, 2u);
    add_wide(row + 9u, y * y, 0u, 2u);
    add_wide(row + 11u, fw, 0u, 2u);
    let wx = mul_wide(fw, x);
    add_wide(row + 13u, wx.x, wx.y, 3u);
    let wy = mul_wide(fw, y);
    add_wide(row + 16u, wy.x, wy.y, 3u);
    atomicMax(&table[row + 19u], peak_key(w));
    atomicMin(&table[row + 21u], x);
    atomicMin(&table[row + 22u], y);
    atomicMax(&table[row + 23u], x + 1u);
    atomicMax(&table[row + 24u], y + 1u);
}

@compute @workgroup_size(64, 1, 1)
fn peaks(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = index(li, wid, nwg);
    if (i >= p.w * p.h) {
        return;
    }
    let label = labels[i];
    if (label == 0u || label > p.capacity) {
        return;
    }
    let row = (label - 1u) * STRIDE;
    if (peak_key(weight(i)) == atomicLoad(&table[row + 19u])) {
        atomicMin(&table[row + 20u], i);
    }
}
