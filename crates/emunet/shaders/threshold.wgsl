// threshold.wgsl — a cut of a float map into a packed mask: a pixel is on when r > t (the classical
// pipeline's cut; r ≥ t with `inclusive`, the network's probability threshold) and it lies at
// least `border` pixels from every edge.
//
// Bindings:
//   0 r     read        [H][W] f32 filter response (fir_filter.wgsl) or probability
//   1 mask  read_write  [ceil(H·W/4)] u32: 4 pixels per word, byte k = pixel 4·word + k, 0 or 255
//   2 p     uniform     ThresholdParams (w, h, border, t, inclusive)
//
// Dispatch: workgroup 64, one invocation per mask word (4 pixels, so no two invocations write the
// same word); words numbered (wid.y · nwg.x + wid.x) · 64 + local index.

struct ThresholdParams {
    w: u32,
    h: u32,
    border: u32,
    t: f32,
    inclusive: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> r: array<f32>;
@group(0) @binding(1) var<storage, read_write> mask: array<u32>;
@group(0) @binding(2) var<uniform> p: ThresholdParams;

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
    var packed = 0u;
    for (var k = 0u; k < 4u; k++) {
        let i = word * 4u + k;
        if (i < n) {
            let x = i % p.w;
            let y = i / p.w;
            let inside = x >= p.border && y >= p.border && x + p.border < p.w && y + p.border < p.h;
            let above = select(r[i] > p.t, r[i] >= p.t, p.inclusive == 1u);
            if (inside && above) {
                packed |= 255u << (8u * k);
            }
        }
    }
    mask[word] = packed;
}
