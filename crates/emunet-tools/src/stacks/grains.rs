//! Focal stacks to 3D grains: the clusters of consecutive planes of a view linked into chains
//! (`docs/spec/emulsion.md`, Conventions, step 8), one chain per grain, with sub-plane depth.
//!
//! 1. The shift between consecutive planes (stage drift) is estimated from the clusters
//!    themselves: the median offset of mutual nearest neighbours within 3 px.
//! 2. Clusters of plane k and k+1 closer than `link_um` after that shift are linked, closest
//!    pairs first, one to one; chains are the grains.
//! 3. x, y come from the chain's darkest cluster (its sub-pixel position), in plane 0's pixel
//!    frame. z comes from a fit of the optics' defocus model to the darkness around (x, y) in the
//!    darkest plane and its two neighbours: a grain at depth z seen from a plane at z_j is a
//!    Gaussian spot of variance `v_f + (k·(z_j − z))²` (µm²) with its integrated darkness
//!    conserved, so its peak falls as `v_f / (v_f + (k·(z_j − z))²)`; one amplitude and one
//!    background per plane are fitted by linear least squares for each trial z, and z minimises
//!    the residual (a coarse scan, then golden-section refinement).

use emunet::clusters::Cluster;
use rayon::prelude::*;

/// Where the planes of a stack are and how large a pixel is.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StackGeometry {
    /// Pixel size in µm (the same in x and y).
    pub pixel_um: f64,
    /// Depth of each focal plane in µm, in stack order.
    pub planes_um: Vec<f64>,
}

/// The probability threshold `emunet grains` segments planes at unless told otherwise. A grain is
/// seen on several planes, so the stage wants fainter detections than a single frame's mask (the
/// shipped model's frame threshold is 0.6, chosen for frame scores). Measured with the shipped
/// model on development views (2 views × 16 planes, 640×512; 3D efficiency / purity): nominal
/// (seed 916001) 0.935 / 0.995 at 0.6, 0.958 / 0.995 at 0.1, 0.963 / 0.994 at 0.05, 0.966 /
/// 0.992 at 0.02, 0.968 / 0.979 at 0.005; easy (916002) 0.966 / 0.997 at 0.6, 0.979 / 0.996 at
/// 0.05; hard (916002) 0.857 / 0.990 at 0.6, 0.909 / 0.985 at 0.05, 0.921 / 0.980 at 0.02.
pub const STACK_THRESHOLD: f32 = 0.05;

/// The optics' defocus model and the linking radius.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkParams {
    /// Clusters of consecutive planes closer than this (µm, after the shift) belong to one grain.
    pub link_um: f64,
    /// Variance (µm²) of an in-focus grain's image: grain disc (d²/8) plus the optics' blur σ0².
    pub focus_var_um2: f64,
    /// Defocus growth k: σ(Δz)² = focus_var + (k·Δz)².
    pub defocus_k: f64,
}

impl Default for LinkParams {
    /// `emulsion.md`'s optics: 0.6 µm grains (d²/8 = 0.045 µm²), σ0 = 0.15 µm, k = 0.35.
    fn default() -> Self {
        LinkParams {
            link_um: 0.4,
            focus_var_um2: 0.6 * 0.6 / 8.0 + 0.15 * 0.15,
            defocus_k: 0.35,
        }
    }
}

/// One plane of a view: its clusters and the darkness map they were measured on
/// ([`emunet::cluster_list::ClusterMap`]).
pub struct Plane<'a> {
    pub width: usize,
    pub height: usize,
    pub darkness: &'a [f32],
    pub clusters: &'a [Cluster],
}

impl<'a> Plane<'a> {
    /// The plane of a `width`-pixel-wide frame's cluster map.
    pub fn of(map: &'a emunet::cluster_list::ClusterMap, width: usize) -> Self {
        Plane {
            width,
            height: map.darkness.len() / width.max(1),
            darkness: &map.darkness,
            clusters: &map.clusters,
        }
    }
}

/// Bits of [`Grain::quality`].
pub mod quality {
    /// The darkest plane is the first or last of the stack: z is extrapolated from one side.
    pub const STACK_EDGE: u32 = 1;
    /// The fitted z lies at the end of its search range (± one plane step).
    pub const Z_AT_LIMIT: u32 = 2;
    /// The chain spans more than 3 planes: a steep track's grains or several grains merged.
    pub const LONG_CHAIN: u32 = 4;
}

/// A grain: a chain of clusters across consecutive planes.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Grain {
    pub grain: usize,
    /// Position in plane 0's pixel frame (pixel centres at i + 0.5) and in µm.
    pub x_px: f64,
    pub y_px: f64,
    pub x_um: f64,
    pub y_um: f64,
    /// Depth from the defocus fit, µm (the planes' depth scale).
    pub z_um: f64,
    /// The darkest cluster's plane, the first plane and the number of planes of the chain.
    pub best_plane: usize,
    pub first_plane: usize,
    pub planes: usize,
    /// The darkest cluster's area (px), volume and peak (grey levels).
    pub area: usize,
    pub volume: f64,
    pub peak: f64,
    /// [`quality`] bits; 0 is a clean grain.
    pub quality: u32,
}

/// `grains.csv`'s header (one row per grain, the fields of [`Grain`] in order after the view).
pub const GRAINS_HEADER: &str =
    "view,grain,x_px,y_px,x_um,y_um,z_um,best_plane,first_plane,planes,area,volume,peak,quality";

/// One view's grains as CSV rows (with the header).
pub fn grains_csv(view: &str, grains: &[Grain]) -> String {
    let mut out = format!("{GRAINS_HEADER}\n");
    for g in grains {
        out.push_str(&format!(
            "{view},{},{:.4},{:.4},{:.4},{:.4},{:.4},{},{},{},{},{:.4},{:.4},{}\n",
            g.grain,
            g.x_px,
            g.y_px,
            g.x_um,
            g.y_um,
            g.z_um,
            g.best_plane,
            g.first_plane,
            g.planes,
            g.area,
            g.volume,
            g.peak,
            g.quality
        ));
    }
    out
}

/// A uniform grid over cluster positions for neighbour queries within `cell` px.
struct Grid {
    cell: f64,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<usize>>,
}

impl Grid {
    fn new(points: &[(f64, f64)], width: usize, height: usize, cell: f64) -> Self {
        let cols = (width as f64 / cell).ceil().max(1.0) as usize;
        let rows = (height as f64 / cell).ceil().max(1.0) as usize;
        let mut cells = vec![Vec::new(); cols * rows];
        for (i, &(x, y)) in points.iter().enumerate() {
            let (c, r) = Self::at(x, y, cell, cols, rows);
            cells[r * cols + c].push(i);
        }
        Grid {
            cell,
            cols,
            rows,
            cells,
        }
    }

    fn at(x: f64, y: f64, cell: f64, cols: usize, rows: usize) -> (usize, usize) {
        let c = ((x / cell).floor().max(0.0) as usize).min(cols - 1);
        let r = ((y / cell).floor().max(0.0) as usize).min(rows - 1);
        (c, r)
    }

    /// Indices of points in the 3×3 cells around (x, y).
    fn near(&self, x: f64, y: f64) -> impl Iterator<Item = usize> + '_ {
        let (c, r) = Self::at(x, y, self.cell, self.cols, self.rows);
        let (c0, c1) = (c.saturating_sub(1), (c + 1).min(self.cols - 1));
        let (r0, r1) = (r.saturating_sub(1), (r + 1).min(self.rows - 1));
        (r0..=r1).flat_map(move |rr| {
            (c0..=c1).flat_map(move |cc| self.cells[rr * self.cols + cc].iter().copied())
        })
    }
}

fn positions(clusters: &[Cluster]) -> Vec<(f64, f64)> {
    clusters.iter().map(|c| (c.cog_x, c.cog_y)).collect()
}

/// Pairs (distance, i in a, j in b) closer than `radius` px once `shift` is added to a's
/// positions, one to one, closest first.
fn match_one_to_one(
    a: &[(f64, f64)],
    b: &[(f64, f64)],
    shift: (f64, f64),
    radius: f64,
    (width, height): (usize, usize),
) -> Vec<(f64, usize, usize)> {
    let grid = Grid::new(b, width, height, radius.max(1.0));
    let mut pairs = Vec::new();
    for (i, &(x, y)) in a.iter().enumerate() {
        let (x, y) = (x + shift.0, y + shift.1);
        for j in grid.near(x, y) {
            let d = ((b[j].0 - x).powi(2) + (b[j].1 - y).powi(2)).sqrt();
            if d <= radius {
                pairs.push((d, i, j));
            }
        }
    }
    crate::eval::one_to_one(pairs, a.len(), b.len())
}

/// How far (px) the stage may move between consecutive planes, and the histogram's bin.
const SHIFT_RANGE: f64 = 4.0;
const SHIFT_BIN: f64 = 0.25;

/// Shifts smaller than this (px) are taken as none: on simulated stacks without any stage
/// motion the estimate found 0.05–0.2 px (the same grain measured in focus and out of focus is
/// not measured at quite the same place), which summed over 15 planes cost 0.1 µm of y RMS.
const SHIFT_DEAD_ZONE: f64 = 0.3;

/// The offset to add to plane a's positions to land on plane b's. Most clusters of a plane are
/// grains in focus there only, so nearest neighbours mislead; instead every pair within
/// ±`SHIFT_RANGE` px votes in a 2D histogram of offsets, where the grains seen in both planes
/// pile up on the true shift over a flat floor of chance pairs. The peak (3×3 bins) must stand
/// 5σ above that floor with at least 10 pairs, else the shift is taken as zero; it is refined
/// by the mean offset of the pairs near it (within 0.6 px, then 0.3 px), and one under
/// `SHIFT_DEAD_ZONE` is taken as zero.
pub fn plane_shift(a: &[(f64, f64)], b: &[(f64, f64)], size: (usize, usize)) -> (f64, f64) {
    let bins = (2.0 * SHIFT_RANGE / SHIFT_BIN) as usize;
    let bin = |d: f64| (((d + SHIFT_RANGE) / SHIFT_BIN) as usize).min(bins - 1);
    let grid = Grid::new(b, size.0, size.1, SHIFT_RANGE);
    let mut hist = vec![0u32; bins * bins];
    let mut offsets = Vec::new();
    for &(x, y) in a {
        for j in grid.near(x, y) {
            let (dx, dy) = (b[j].0 - x, b[j].1 - y);
            if dx.abs() < SHIFT_RANGE && dy.abs() < SHIFT_RANGE {
                hist[bin(dy) * bins + bin(dx)] += 1;
                offsets.push((dx, dy));
            }
        }
    }
    let mut best = (0u32, 0usize, 0usize);
    for by in 1..bins - 1 {
        for bx in 1..bins - 1 {
            let sum: u32 = (by - 1..=by + 1)
                .flat_map(|r| (bx - 1..=bx + 1).map(move |c| (r, c)))
                .map(|(r, c)| hist[r * bins + c])
                .sum();
            if sum > best.0 {
                best = (sum, bx, by);
            }
        }
    }
    let floor = offsets.len() as f64 * 9.0 / (bins * bins) as f64;
    if (best.0 as f64) < (floor + 5.0 * floor.sqrt()).max(10.0) {
        return (0.0, 0.0);
    }
    let centre = |b: usize| -SHIFT_RANGE + (b as f64 + 0.5) * SHIFT_BIN;
    let mut shift = (centre(best.1), centre(best.2));
    // The 3×3 block's centre bin may be a bin off the peak in each axis: first gather within
    // 0.6 px, then within 0.3.
    for radius in [0.6f64, 0.3, 0.3] {
        let near: Vec<&(f64, f64)> = offsets
            .iter()
            .filter(|(dx, dy)| (dx - shift.0).powi(2) + (dy - shift.1).powi(2) <= radius * radius)
            .collect();
        if near.is_empty() {
            break;
        }
        let n = near.len() as f64;
        shift = (
            near.iter().map(|o| o.0).sum::<f64>() / n,
            near.iter().map(|o| o.1).sum::<f64>() / n,
        );
    }
    if shift.0.hypot(shift.1) < SHIFT_DEAD_ZONE {
        return (0.0, 0.0);
    }
    shift
}

/// Half-width of the fit window (px): 9×9 holds a grain one plane step out of focus.
const HALF: i64 = 4;

/// The darkness windows around (x, y) in each plane: (plane depth, [(dx², value)]).
type Windows = Vec<(f64, Vec<(f64, f64)>)>;

/// The fit windows around (x, y), one per plane `(j, x_j, y_j)`, leaving out the pixels of other
/// grains found in that plane (within their radius + 1.5 px of their centre), whose darkness
/// the single-spot model cannot explain.
fn windows(
    maps: &[&[f32]],
    others: &[Grid],
    planes_clusters: &[&[Cluster]],
    size: (usize, usize),
    planes: &[(usize, f64, f64)],
    depths: &[f64],
) -> Windows {
    let (w, h) = size;
    planes
        .iter()
        .map(|&(j, x, y)| {
            // Other grains' discs in this plane: (cx, cy, radius²).
            let discs: Vec<(f64, f64, f64)> = others[j]
                .near(x, y)
                .map(|i| &planes_clusters[j][i])
                .filter(|c| (c.cog_x - x).powi(2) + (c.cog_y - y).powi(2) > 1.0)
                .map(|c| {
                    let r = (c.area as f64 / std::f64::consts::PI).sqrt() + 1.5;
                    (c.cog_x, c.cog_y, r * r)
                })
                .collect();
            let (cx, cy) = (x.floor() as i64, y.floor() as i64);
            let mut samples = Vec::with_capacity(((2 * HALF + 1) * (2 * HALF + 1)) as usize);
            for py in cy - HALF..=cy + HALF {
                for px in cx - HALF..=cx + HALF {
                    if px < 0 || py < 0 || px >= w as i64 || py >= h as i64 {
                        continue;
                    }
                    let (pcx, pcy) = (px as f64 + 0.5, py as f64 + 0.5);
                    if discs
                        .iter()
                        .any(|&(ox, oy, r2)| (pcx - ox).powi(2) + (pcy - oy).powi(2) <= r2)
                    {
                        continue;
                    }
                    let r2 = (pcx - x).powi(2) + (pcy - y).powi(2);
                    samples.push((r2, maps[j][py as usize * w + px as usize] as f64));
                }
            }
            (depths[j], samples)
        })
        .collect()
}

/// Residual sum of squares of the defocus model at depth z: one amplitude shared by the planes
/// (integrated darkness is conserved), one background per plane, fitted linearly.
fn residual(win: &Windows, z: f64, pixel_um: f64, p: &LinkParams) -> f64 {
    // Normal equations of [A, b_0, …, b_{n-1}] with design columns s_j(r) (the unit-volume
    // spot of plane j) and the plane's indicator: a bordered diagonal system.
    let n = win.len();
    let (mut saa, mut say) = (0.0, 0.0);
    let mut sab = vec![0.0; n];
    let mut sb = vec![0.0; n];
    let mut sy = vec![0.0; n];
    let mut syy = 0.0;
    for (j, (zj, samples)) in win.iter().enumerate() {
        let var_um2 = p.focus_var_um2 + (p.defocus_k * (zj - z)).powi(2);
        let var_px2 = var_um2 / (pixel_um * pixel_um);
        let scale = p.focus_var_um2 / var_um2;
        for &(r2, y) in samples {
            let s = scale * (-r2 / (2.0 * var_px2)).exp();
            saa += s * s;
            say += s * y;
            sab[j] += s;
            sb[j] += 1.0;
            sy[j] += y;
            syy += y * y;
        }
    }
    // Eliminate the backgrounds: b_j = (sy_j − A·sab_j) / sb_j.
    let mut a11 = saa;
    let mut r1 = say;
    let mut rest = syy;
    for j in 0..n {
        if sb[j] > 0.0 {
            a11 -= sab[j] * sab[j] / sb[j];
            r1 -= sab[j] * sy[j] / sb[j];
            rest -= sy[j] * sy[j] / sb[j];
        }
    }
    if a11 <= 1e-12 {
        return rest;
    }
    // A dark spot has a positive amplitude; a negative one fits nothing.
    let amplitude = (r1 / a11).max(0.0);
    rest - 2.0 * amplitude * r1 + amplitude * amplitude * a11
}

/// The depth minimising the residual within [lo, hi]: a scan every 0.25 µm, then golden-section
/// refinement around the best sample. Returns (z, at a limit of the range).
fn fit_depth(win: &Windows, lo: f64, hi: f64, pixel_um: f64, p: &LinkParams) -> (f64, bool) {
    let steps = ((hi - lo) / 0.25).ceil().max(2.0) as usize;
    let dz = (hi - lo) / steps as f64;
    let (mut best, mut best_r) = (lo, f64::INFINITY);
    for i in 0..=steps {
        let z = lo + dz * i as f64;
        let r = residual(win, z, pixel_um, p);
        if r < best_r {
            (best, best_r) = (z, r);
        }
    }
    let (mut a, mut b) = ((best - dz).max(lo), (best + dz).min(hi));
    let g = 0.5 * (5f64.sqrt() - 1.0);
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (residual(win, c, pixel_um, p), residual(win, d, pixel_um, p));
    while b - a > 0.005 {
        if fc < fd {
            (b, d, fd) = (d, c, fc);
            c = b - g * (b - a);
            fc = residual(win, c, pixel_um, p);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + g * (b - a);
            fd = residual(win, d, pixel_um, p);
        }
    }
    let z = 0.5 * (a + b);
    (z, z - lo < 0.01 || hi - z < 0.01)
}

/// Links a view's planes into grains. `planes` are in stack order, `geometry.planes_um` their
/// depths; every frame has the same size.
pub fn link_grains(planes: &[Plane], geometry: &StackGeometry, p: &LinkParams) -> Vec<Grain> {
    let n = planes.len();
    if n == 0 {
        return Vec::new();
    }
    let size = (planes[0].width, planes[0].height);
    let pos: Vec<Vec<(f64, f64)>> = planes.iter().map(|pl| positions(pl.clusters)).collect();
    // Cumulative shift of each plane to plane 0: to_zero[k] added to plane k's positions.
    let mut to_zero = vec![(0.0, 0.0); n];
    let mut steps = vec![(0.0, 0.0); n];
    for k in 1..n {
        let s = plane_shift(&pos[k - 1], &pos[k], size);
        steps[k] = s;
        to_zero[k] = (to_zero[k - 1].0 - s.0, to_zero[k - 1].1 - s.1);
    }
    // Chains: next[k][i] = the cluster of plane k+1 linked to cluster i of plane k.
    let radius = p.link_um / geometry.pixel_um;
    let mut prev: Vec<Vec<Option<usize>>> = pos.iter().map(|v| vec![None; v.len()]).collect();
    let mut next: Vec<Vec<Option<usize>>> = prev.clone();
    for k in 0..n.saturating_sub(1) {
        for (_, i, j) in match_one_to_one(&pos[k], &pos[k + 1], steps[k + 1], radius, size) {
            next[k][i] = Some(j);
            prev[k + 1][j] = Some(i);
        }
    }
    let maps: Vec<&[f32]> = planes.iter().map(|pl| pl.darkness).collect();
    // Cells of 2·HALF px: a window's neighbours are within the 3×3 cells around its centre.
    let others: Vec<Grid> = pos
        .iter()
        .map(|p| Grid::new(p, size.0, size.1, (2 * HALF) as f64))
        .collect();
    let planes_clusters: Vec<&[Cluster]> = planes.iter().map(|pl| pl.clusters).collect();
    let step_um = if n > 1 {
        (geometry.planes_um[n - 1] - geometry.planes_um[0]).abs() / (n - 1) as f64
    } else {
        3.0
    };
    // The chains (plane, cluster), each from its first cluster, in plane then cluster order.
    let mut chains: Vec<Vec<(usize, usize)>> = Vec::new();
    for (k, plane_prev) in prev.iter().enumerate() {
        for (i, linked_from) in plane_prev.iter().enumerate() {
            if linked_from.is_some() {
                continue; // not the start of a chain
            }
            let mut chain = vec![(k, i)];
            while let Some(j) = next[chain.last().unwrap().0][chain.last().unwrap().1] {
                chain.push((chain.last().unwrap().0 + 1, j));
            }
            chains.push(chain);
        }
    }
    // Each chain's grain: position and depth fit, on every core, in chain order.
    let grain_of = |(id, chain): (usize, &Vec<(usize, usize)>)| -> Grain {
        let &(bk, bi) = chain
            .iter()
            .max_by(|a, b| {
                let (ca, cb) = (&planes[a.0].clusters[a.1], &planes[b.0].clusters[b.1]);
                ca.peak.total_cmp(&cb.peak).then(b.0.cmp(&a.0))
            })
            .expect("a chain has a cluster");
        let c = &planes[bk].clusters[bi];
        // The fit windows: the darkest plane and its neighbours, each at the grain's
        // position in that plane's frame.
        let (x0, y0) = (c.cog_x + to_zero[bk].0, c.cog_y + to_zero[bk].1);
        let fit_planes: Vec<(usize, f64, f64)> = (bk.saturating_sub(1)..=(bk + 1).min(n - 1))
            .map(|j| (j, x0 - to_zero[j].0, y0 - to_zero[j].1))
            .collect();
        let win = windows(
            &maps,
            &others,
            &planes_clusters,
            size,
            &fit_planes,
            &geometry.planes_um,
        );
        let zb = geometry.planes_um[bk];
        let (z, at_limit) = fit_depth(&win, zb - step_um, zb + step_um, geometry.pixel_um, p);
        let mut q = 0;
        if n > 1 && (bk == 0 || bk == n - 1) {
            q |= quality::STACK_EDGE;
        }
        if at_limit {
            q |= quality::Z_AT_LIMIT;
        }
        if chain.len() > 3 {
            q |= quality::LONG_CHAIN;
        }
        Grain {
            grain: id,
            x_px: x0,
            y_px: y0,
            x_um: x0 * geometry.pixel_um,
            y_um: y0 * geometry.pixel_um,
            z_um: z,
            best_plane: bk,
            first_plane: chain[0].0,
            planes: chain.len(),
            area: c.area,
            volume: c.volume,
            peak: c.peak,
            quality: q,
        }
    };
    chains.par_iter().enumerate().map(grain_of).collect()
}
