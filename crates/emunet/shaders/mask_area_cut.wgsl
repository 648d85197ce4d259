// mask_area_cut.wgsl — the area cut of the classical pipeline on the GPU: clears every mask pixel
// of a cluster whose area lies outside [min_area, max_area], so the mask shows the clusters kept.
//
// Bindings:
//   0 labels  read        [H·W] u32                 0 = background, k = cluster k − 1
//                                                   (label_components.wgsl)
//   1 table   read        [capacity][STRIDE] u32    cluster_moments.wgsl's rows; word 0 = area
//   2 mask    read_write  [ceil(H·W/4)] u32         4 pixels per word, byte k = pixel 4·word + k
//   3 p       uniform     AreaCutParams
//
// Dispatch: workgroup 64, one invocation per mask word (so no two write the same word); words
// numbered (wid.y · nwg.x + wid.x) · 64 + local index.

struct AreaCutParams {
    w: u32,
    h: u32,
    min_area: u32,
    max_area: u32,
}

@group(0) @binding(0) var<storage, read> labels: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read_write> mask: array<u32>;
@group(0) @binding(3) var<uniform> p: AreaCutParams;

const STRIDE: u32 = 26u;

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let word = (wid.y * nwg.x + wid.x) * 64u + li;
    let n = p.w * p.h;
    if (word * 4u >= n) {
        return;
    }
    var packed = mask[word];
    for (var k = 0u; k < 4u; k++) {
        let i = word * 4u + k;
        if (i < n && labels[i] != 0u) {
            let area = table[(labels[i] - 1u) * STRIDE];
            if (area < p.min_area || area > p.max_area) {
                packed &= ~(0xffu << (8u * k));
            }
        }
    }
    mask[word] = packed;
}
