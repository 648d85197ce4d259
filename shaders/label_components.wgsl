// label_components.wgsl — connected components of a mask, numbered in raster order: the GPU form
// of `clusters::label` (src/clusters.rs), equal to it label for label.
//
// A union-find over pixel indices whose roots are always the smallest index of their tree
// (Playne & Hawick's concurrent union with atomicMin), so a component's root is its first pixel
// in raster order; numbering the roots by a prefix count then gives the CPU's numbering.
// Entry points, recorded in this order (each dispatch sees the previous one's writes):
//   init:    parent[i] = the smallest on-neighbour before i (scanning order) or i itself;
//            NONE for pixels that are off.
//   merge:   unites every on pixel with each on-neighbour before it (left, up; with 8-connectivity
//            also up-left and up-right). One pass suffices: every union completes.
//   flatten: parent[i] = root of i.
//   count:   blocks[b] = the number of roots among block b's BLOCK pixels.
//   scan:    one workgroup: blocks[b] = Σ blocks[0..b] (exclusive), blocks[nblocks] = total.
//   number:  labels[root] = 1 + blocks[b] + the roots before it in its block.
//   relabel: labels[i] = labels[parent[i]] for the other on pixels, 0 for off pixels.
//
// Bindings:
//   0 mask    read        [ceil(H·W/4)] u32   4 pixels per word, byte k = pixel 4·word + k, on ≠ 0
//   1 parent  read_write  [H·W] atomic<u32>   union-find forest (NONE = 0xffffffff: off)
//   2 blocks  read_write  [nblocks + 1] u32   per-block root counts, then their exclusive prefix
//   3 labels  read_write  [H·W] u32           0 = background, k = cluster k − 1 (the output)
//   4 p       uniform     LabelParams
//
// Dispatch: init, merge, flatten, relabel — workgroup 64, one invocation per pixel, pixels numbered
// (wid.y · nwg.x + wid.x) · 64 + local index; count, number — one workgroup of 64 per block of
// BLOCK = 1024 pixels (16 consecutive pixels per invocation), blocks numbered wid.y · nwg.x + wid.x;
// scan — exactly one workgroup of 64.

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
@group(0) @binding(3) var<storage, read_write> labels: array<u32>;
@group(0) @binding(4) var<uniform> p: LabelParams;

const NONE: u32 = 0xffffffffu;
const PER_INVOCATION: u32 = 16u;
const BLOCK: u32 = 1024u;

fn is_on(i: u32) -> bool {
    return ((mask[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu) != 0u;
}

fn pixel_index(li: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + li;
}

// The on-neighbours of i = (x, y) that come before it in raster order, smallest first:
// up-left, up, up-right, left (NONE where off, outside, or excluded by the connectivity).
fn earlier_neighbours(i: u32) -> vec4<u32> {
    let x = i % p.w;
    let y = i / p.w;
    var n = vec4<u32>(NONE);
    if (y > 0u) {
        let up = i - p.w;
        if (p.eight == 1u && x > 0u && is_on(up - 1u)) {
            n.x = up - 1u;
        }
        if (is_on(up)) {
            n.y = up;
        }
        if (p.eight == 1u && x + 1u < p.w && is_on(up + 1u)) {
            n.z = up + 1u;
        }
    }
    if (x > 0u && is_on(i - 1u)) {
        n.w = i - 1u;
    }
    return n;
}

@compute @workgroup_size(64, 1, 1)
fn init(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = pixel_index(li, wid, nwg);
    if (i >= p.w * p.h) {
        return;
    }
    if (!is_on(i)) {
        atomicStore(&parent[i], NONE);
        return;
    }
    // A smaller neighbour of the same component is a valid parent and shortens the trees.
    let n = earlier_neighbours(i);
    atomicStore(&parent[i], min(min(min(n.x, n.y), min(n.z, n.w)), i));
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
    let i = pixel_index(li, wid, nwg);
    if (i >= p.w * p.h || !is_on(i)) {
        return;
    }
    let n = earlier_neighbours(i);
    for (var k = 0u; k < 4u; k++) {
        if (n[k] != NONE) {
            unite(i, n[k]);
        }
    }
}

@compute @workgroup_size(64, 1, 1)
fn flatten(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = pixel_index(li, wid, nwg);
    if (i >= p.w * p.h || atomicLoad(&parent[i]) == NONE) {
        return;
    }
    atomicStore(&parent[i], find(i));
}

fn is_root(i: u32) -> bool {
    return i < p.w * p.h && atomicLoad(&parent[i]) == i;
}

var<workgroup> counts: array<u32, 64>;

// The roots among this invocation's 16 pixels of the block; leaves every invocation's count in
// `counts` and returns the index of its first pixel.
fn count_roots(li: u32, block: u32) -> u32 {
    let first = block * BLOCK + li * PER_INVOCATION;
    var c = 0u;
    for (var k = 0u; k < PER_INVOCATION; k++) {
        c += select(0u, 1u, is_root(first + k));
    }
    counts[li] = c;
    workgroupBarrier();
    return first;
}

@compute @workgroup_size(64, 1, 1)
fn count(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let block = wid.y * nwg.x + wid.x;
    if (block >= p.nblocks) {
        return;
    }
    count_roots(li, block);
    if (li == 0u) {
        var total = 0u;
        for (var k = 0u; k < 64u; k++) {
            total += counts[k];
        }
        blocks[block] = total;
    }
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
fn number(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let block = wid.y * nwg.x + wid.x;
    if (block >= p.nblocks) {
        return;
    }
    let first = count_roots(li, block);
    var next = blocks[block] + 1u;
    for (var k = 0u; k < li; k++) {
        next += counts[k];
    }
    for (var k = 0u; k < PER_INVOCATION; k++) {
        if (is_root(first + k)) {
            labels[first + k] = next;
            next += 1u;
        }
    }
}

@compute @workgroup_size(64, 1, 1)
fn relabel(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = pixel_index(li, wid, nwg);
    if (i >= p.w * p.h) {
        return;
    }
    let root = atomicLoad(&parent[i]);
    if (root == NONE) {
        labels[i] = 0u;
    } else if (root != i) {
        labels[i] = labels[root];
    }
}
