// label_components.wgsl — connected components of a mask, numbered in raster order: the GPU form
// of `clusters::label` (src/emulsion/clusters.rs), equal to it label for label.
//
// The on pixels are first compacted into a list in raster order (a block prefix count), so every
// later pass works on on pixels only with all lanes busy: most pixels are off, and on a software
// driver lanes idling beside one busy lane cost as much as working ones. Then a union-find over
// pixel indices whose roots are always the smallest index of their tree (Playne & Hawick's
// concurrent union with atomicMin): a component's root is its first pixel in raster order, and
// numbering the roots by a second prefix count over the list gives the CPU's numbering.
//
// Entry points, recorded in this order (each dispatch sees the previous one's writes):
//   count_on: blocks[b] = the on pixels of pixel block b.
//   scan:     one workgroup: blocks[b] = Σ blocks[0..b] (exclusive), blocks[nblocks] = total.
//   compact:  list[blocks[b] + …] = the on pixels of block b in raster order;
//             blocks[nblocks + 1] = their number n_on.
//   init:     parent[i] = the smallest on-neighbour before i (raster order), or i itself.
//   merge:    the unions init's one link per pixel leaves out. With 8-connectivity a pixel whose up
//             neighbour is on needs none (all its earlier on-neighbours touch that one, and by
//             induction are already joined to it); otherwise it joins left-or-up-left and
//             up-right, which do not touch. With 4-connectivity: up and left. Every union
//             completes in this one pass.
//   flatten:  parent[i] = root of i; blocks[b] = the roots among list block b.
//   scan:     again, over the root counts; blocks[nblocks] = the number of clusters.
//   number:   labels[root] = 1 + blocks[b] + the roots before it in its list block.
//   relabel:  labels[i] = labels[parent[i]] for the other on pixels.
//
// Bindings:
//   0 mask    read        [ceil(H·W/4)] u32   4 pixels per word, byte k = pixel 4·word + k, on ≠ 0;
//                                             bytes past H·W are 0
//   1 parent  read_write  [H·W] atomic<u32>   union-find forest (on pixels only)
//   2 blocks  read_write  [nblocks + 2] u32   per-block counts, then their exclusive prefix;
//                                             [nblocks] the total, [nblocks + 1] n_on
//   3 list    read_write  [H·W] u32           the on pixels in raster order (first n_on)
//   4 labels  read_write  [H·W] u32           0 = background, k = cluster k − 1 (the output; the
//                                             host clears it to 0 first)
//   5 p       uniform     LabelParams
//
// Dispatch: workgroup 64, one per block of BLOCK = 2048 items (blocks numbered
// wid.y · nwg.x + wid.x), lane li taking items 32·li … 32·li + 31 of the block: pixels in count_on
// and compact, list entries in the other passes (whose blocks past n_on return at once); scan:
// exactly one workgroup.

struct LabelParams {
    w: u32,
    h: u32,
    // 1: 8-connectivity, 0: 4-connectivity.
    eight: u32,
    nblocks: u32,
}

@group(0) @binding(0) var<storage, read> mask: array<u32>;
@group(0) @binding(1) var<storage, read_write> parent: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> blocks: array<u32>;
@group(0) @binding(3) var<storage, read_write> list: array<u32>;
@group(0) @binding(4) var<storage, read_write> labels: array<u32>;
@group(0) @binding(5) var<uniform> p: LabelParams;

const NONE: u32 = 0xffffffffu;
const PER_INVOCATION: u32 = 32u;
const BLOCK: u32 = 2048u;

var<workgroup> counts: array<u32, 64>;

fn is_on(i: u32) -> bool {
    return ((mask[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu) != 0u;
}

fn block_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.y * nwg.x + wid.x;
}

// Bit k set when pixel first + k is on (first a multiple of 32).
fn on_bits(first: u32) -> u32 {
    let words = (p.w * p.h + 3u) / 4u;
    var bits = 0u;
    for (var q = 0u; q < PER_INVOCATION / 4u; q++) {
        let word = first / 4u + q;
        if (word < words) {
            let m = mask[word];
            for (var k = 0u; k < 4u; k++) {
                if (((m >> (8u * k)) & 0xffu) != 0u) {
                    bits |= 1u << (4u * q + k);
                }
            }
        }
    }
    return bits;
}

// Takes the lowest set bit off `bits` and returns its offset.
fn pop_lowest(bits: ptr<function, u32>) -> u32 {
    let k = firstTrailingBit(*bits);
    *bits &= *bits - 1u;
    return k;
}

// Leaves `c` (this lane's count) in counts[li] and returns the sum of the counts of the lanes
// before it; with `total`, lane 0 also writes the workgroup's sum to blocks[block].
fn lane_offset(li: u32, c: u32, block: u32, total: bool) -> u32 {
    counts[li] = c;
    workgroupBarrier();
    var before = 0u;
    for (var k = 0u; k < li; k++) {
        before += counts[k];
    }
    if (total && li == 63u) {
        blocks[block] = before + c;
    }
    return before;
}

// The number of on pixels (the list's length), valid from `compact` on.
fn n_on() -> u32 {
    return blocks[p.nblocks + 1u];
}

// This lane's list entries: [first, end).
fn lane_entries(li: u32, block: u32) -> vec2<u32> {
    let first = block * BLOCK + li * PER_INVOCATION;
    return vec2<u32>(first, min(first + PER_INVOCATION, n_on()));
}

@compute @workgroup_size(64, 1, 1)
fn count_on(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let block = block_of(wid, nwg);
    if (block >= p.nblocks) {
        return;
    }
    let bits = on_bits(block * BLOCK + li * PER_INVOCATION);
    lane_offset(li, countOneBits(bits), block, true);
}

@compute @workgroup_size(64, 1, 1)
fn scan(@builtin(local_invocation_index) li: u32) {
    // Each invocation sums a contiguous run of blocks, the runs' sums are scanned in order by
    // invocation 0, then each invocation rewrites its run as exclusive prefixes.
    let run = (p.nblocks + 63u) / 64u;
    let first = li * run;
    let last = min(first + run, p.nblocks);
    var s = 0u;
    for (var b = first; b < last; b++) {
        s += blocks[b];
    }
    counts[li] = s;
    workgroupBarrier();
    if (li == 0u) {
        var total = 0u;
        for (var k = 0u; k < 64u; k++) {
            let c = counts[k];
            counts[k] = total;
            total += c;
        }
        blocks[p.nblocks] = total;
    }
    workgroupBarrier();
    var offset = counts[li];
    for (var b = first; b < last; b++) {
        let c = blocks[b];
        blocks[b] = offset;
        offset += c;
    }
}

@compute @workgroup_size(64, 1, 1)
fn compact(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let block = block_of(wid, nwg);
    if (block >= p.nblocks) {
        return;
    }
    if (block == 0u && li == 0u) {
        blocks[p.nblocks + 1u] = blocks[p.nblocks];
    }
    let first = block * BLOCK + li * PER_INVOCATION;
    var bits = on_bits(first);
    var next = blocks[block] + lane_offset(li, countOneBits(bits), block, false);
    while (bits != 0u) {
        list[next] = first + pop_lowest(&bits);
        next += 1u;
    }
}

// Pixel j when it is on (and the neighbour exists), else NONE.
fn on_or_none(exists: bool, j: u32) -> u32 {
    if (exists && is_on(j)) {
        return j;
    }
    return NONE;
}

@compute @workgroup_size(64, 1, 1)
fn init(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let range = lane_entries(li, block_of(wid, nwg));
    let eight = p.eight == 1u;
    for (var e = range.x; e < range.y; e++) {
        let i = list[e];
        let x = i % p.w;
        let y = i / p.w;
        // A smaller neighbour of the same component is a valid parent and shortens the trees.
        var parent_of = on_or_none(x > 0u, i - 1u);
        parent_of = min(parent_of, on_or_none(eight && y > 0u && x + 1u < p.w, i - p.w + 1u));
        parent_of = min(parent_of, on_or_none(y > 0u, i - p.w));
        parent_of = min(parent_of, on_or_none(eight && y > 0u && x > 0u, i - p.w - 1u));
        atomicStore(&parent[i], min(parent_of, i));
    }
}

fn find(start: u32) -> u32 {
    var a = start;
    loop {
        let up = atomicLoad(&parent[a]);
        if (up == a) {
            return a;
        }
        a = up;
    }
    return a;
}

// Joins the trees of a and b: the larger root is hung under the smaller one. When another
// invocation changed the larger root's parent first, atomicMin keeps the smaller of the two
// and the loop goes on with the displaced parent, so no union is lost.
fn unite(a0: u32, b0: u32) {
    var a = a0;
    var b = b0;
    loop {
        a = find(a);
        b = find(b);
        if (a == b) {
            return;
        }
        if (a < b) {
            let t = a;
            a = b;
            b = t;
        }
        let old = atomicMin(&parent[a], b);
        if (old == a) {
            return;
        }
        a = old;
    }
}

@compute @workgroup_size(64, 1, 1)
fn merge(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let range = lane_entries(li, block_of(wid, nwg));
    for (var e = range.x; e < range.y; e++) {
        let i = list[e];
        let x = i % p.w;
        let y = i / p.w;
        let up = on_or_none(y > 0u, i - p.w);
        let left = on_or_none(x > 0u, i - 1u);
        if (p.eight == 1u) {
            if (up != NONE) {
                continue;
            }
            let up_left = on_or_none(y > 0u && x > 0u, i - p.w - 1u);
            let up_right = on_or_none(y > 0u && x + 1u < p.w, i - p.w + 1u);
            let west = min(left, up_left);
            if (west != NONE && up_right != NONE) {
                unite(i, west);
                unite(i, up_right);
            }
        } else if (up != NONE && left != NONE) {
            unite(i, left);
        }
    }
}

// Bit k set when list entry first + k (< end) is a root.
fn root_bits(range: vec2<u32>) -> u32 {
    var roots = 0u;
    for (var e = range.x; e < range.y; e++) {
        let i = list[e];
        if (atomicLoad(&parent[i]) == i) {
            roots |= 1u << (e - range.x);
        }
    }
    return roots;
}

@compute @workgroup_size(64, 1, 1)
fn flatten(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let block = block_of(wid, nwg);
    if (block >= p.nblocks) {
        return;
    }
    // Flattening moves no root, so the roots counted here are the final ones.
    let range = lane_entries(li, block);
    for (var e = range.x; e < range.y; e++) {
        let i = list[e];
        atomicStore(&parent[i], find(i));
    }
    lane_offset(li, countOneBits(root_bits(range)), block, true);
}

@compute @workgroup_size(64, 1, 1)
fn number(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let block = block_of(wid, nwg);
    if (block >= p.nblocks) {
        return;
    }
    let range = lane_entries(li, block);
    var roots = root_bits(range);
    var next = blocks[block] + 1u + lane_offset(li, countOneBits(roots), block, false);
    while (roots != 0u) {
        labels[list[range.x + pop_lowest(&roots)]] = next;
        next += 1u;
    }
}

@compute @workgroup_size(64, 1, 1)
fn relabel(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let range = lane_entries(li, block_of(wid, nwg));
    for (var e = range.x; e < range.y; e++) {
        let i = list[e];
        let root = atomicLoad(&parent[i]);
        if (root != i) {
            labels[i] = labels[root];
        }
    }
}
