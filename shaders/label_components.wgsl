// label_components.wgsl — connected components of a mask, numbered in raster order: the GPU form
// of `clusters::label` (src/clusters.rs), equal to it label for label.
//
// A union-find over pixel indices whose roots are always the smallest index of their tree
// (Playne & Hawick's concurrent union with atomicMin), so a component's root is its first pixel
// in raster order; numbering the roots by a prefix count then gives the CPU's numbering.
// Only on pixels are touched (parent[i] of an off pixel is never read; the host clears `labels`
// to 0 first), and each invocation takes 16 consecutive pixels, reading their 4 mask words once
// and visiting only the on ones: most pixels are off, and on a software driver an invocation
// costs more than the work an off pixel needs.
//
// Entry points, recorded in this order (each dispatch sees the previous one's writes):
//   init:    parent[i] = the smallest on-neighbour before i (raster order), or i itself.
//   merge:   the unions init's one link per pixel leaves out. With 8-connectivity a pixel whose up
//            neighbour is on needs none (all its earlier on-neighbours touch that one, and by
//            induction are already joined to it); otherwise it joins left-or-up-left and up-right,
//            which do not touch. With 4-connectivity: up and left. Every union completes in this
//            one pass.
//   flatten: parent[i] = root of i.
//   count:   blocks[b] = the number of roots among block b's BLOCK pixels.
//   scan:    one workgroup: blocks[b] = Σ blocks[0..b] (exclusive), blocks[nblocks] = total.
//   number:  labels[root] = 1 + blocks[b] + the roots before it in its block.
//   relabel: labels[i] = labels[parent[i]] for the other on pixels.
//
// Bindings:
//   0 mask    read        [ceil(H·W/4)] u32   4 pixels per word, byte k = pixel 4·word + k, on ≠ 0;
//                                             bytes past H·W are 0
//   1 parent  read_write  [H·W] atomic<u32>   union-find forest (on pixels only)
//   2 blocks  read_write  [nblocks + 1] u32   per-block root counts, then their exclusive prefix
//   3 labels  read_write  [H·W] u32           0 = background, k = cluster k − 1 (the output)
//   4 p       uniform     LabelParams
//
// Dispatch: workgroup 64, one per block of BLOCK = 1024 pixels (blocks numbered
// wid.y · nwg.x + wid.x), lane li taking pixels 16·li … 16·li + 15 of the block; scan: exactly one
// workgroup.

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
const PER_INVOCATION: u32 = 32u;
const BLOCK: u32 = 2048u;

fn is_on(i: u32) -> bool {
    return ((mask[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu) != 0u;
}

// The first of the 16 pixels of invocation (li, wid).
fn first_pixel(li: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * BLOCK + li * PER_INVOCATION;
}

// Bit k set when pixel first + k is on (first a multiple of 16).
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

// Takes the lowest set bit off `bits` and returns its pixel.
fn next_on(bits: ptr<function, u32>, first: u32) -> u32 {
    let k = firstTrailingBit(*bits);
    *bits &= *bits - 1u;
    return first + k;
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
    let first = first_pixel(li, wid, nwg);
    var bits = on_bits(first);
    while (bits != 0u) {
        let i = next_on(&bits, first);
        let x = i % p.w;
        let y = i / p.w;
        let eight = p.eight == 1u;
        // Smallest first: up-left, up, up-right, left. A smaller neighbour of the same component
        // is a valid parent and shortens the trees.
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
    let first = first_pixel(li, wid, nwg);
    var bits = on_bits(first);
    while (bits != 0u) {
        let i = next_on(&bits, first);
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

@compute @workgroup_size(64, 1, 1)
fn flatten(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let first = first_pixel(li, wid, nwg);
    var bits = on_bits(first);
    while (bits != 0u) {
        let i = next_on(&bits, first);
        atomicStore(&parent[i], find(i));
    }
}

var<workgroup> counts: array<u32, 64>;

// Bit k set when pixel first + k is a root; leaves every invocation's root count in `counts`.
fn root_bits(first: u32, li: u32) -> u32 {
    var on = on_bits(first);
    var roots = 0u;
    while (on != 0u) {
        let i = next_on(&on, first);
        if (atomicLoad(&parent[i]) == i) {
            roots |= 1u << (i - first);
        }
    }
    counts[li] = countOneBits(roots);
    workgroupBarrier();
    return roots;
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
    root_bits(first_pixel(li, wid, nwg), li);
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
    let first = first_pixel(li, wid, nwg);
    var roots = root_bits(first, li);
    var next = blocks[block] + 1u;
    for (var k = 0u; k < li; k++) {
        next += counts[k];
    }
    while (roots != 0u) {
        labels[next_on(&roots, first)] = next;
        next += 1u;
    }
}

@compute @workgroup_size(64, 1, 1)
fn relabel(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let first = first_pixel(li, wid, nwg);
    var bits = on_bits(first);
    while (bits != 0u) {
        let i = next_on(&bits, first);
        let root = atomicLoad(&parent[i]);
        if (root != i) {
            labels[i] = labels[root];
        }
    }
}
