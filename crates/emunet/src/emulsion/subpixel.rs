//! Sub-pixel cluster positions: an iterated, Gaussian-windowed, background-subtracted centre of
//! gravity of the darkness map (the estimator astronomers call a windowed centroid).
//!
//! Why not the mask-weighted centre of gravity: a mask cuts a grain's spot at a contour, and the
//! darkness inside is measured against the frame's median, while the local background
//! (vignetting, out-of-focus haze, dust) differs from it; both pull the centre towards the side
//! where the contour or the background is off. Here the background is a plane fitted to the
//! nearby pixels outside every cluster; the weights are the darkness above it times a Gaussian
//! window centred on the current estimate (smooth, so the fixed point does not jump with the
//! pixel grid, and symmetric about the grain rather than the mask); pixels of other clusters (a
//! split neighbour) are left out; the window moves until its step is below 1e-4 px. For a
//! symmetric spot the fixed point is the spot's centre. Why not a Gaussian fit: it is the better
//! estimator only while spots really are Gaussian (this simulator's are; another simulator's or a
//! real microscope's need not be), it needs a non-linear solve per cluster that can fail, and a
//! centre of gravity is what the CSV columns `cog_x, cog_y` mean.

use crate::clusters::Cluster;

/// σ (px) of the Gaussian window of the centre of gravity. Measured with the truth mask as the
/// prediction (`examples/truth_clusters`, 2 frames per preset, seed 4242): RMS 0.128 / 0.185 /
/// 0.250 px (easy / nominal / hard) at 0.7, 0.142 / 0.176 / 0.227 at 1.0, 0.160 / 0.191 / 0.241
/// at 1.3; narrower windows see less of a faint grain, wider ones more of its neighbours.
pub const WINDOW_SIGMA: f64 = 1.0;
/// Iterations at most (they stop once the step is below 1e-4 px).
pub const MAX_ITERATIONS: usize = 20;
/// Ring (px beyond the cluster's bounding box) whose background pixels give the local level.
pub const BACKGROUND_MARGIN: usize = 4;

/// Replaces each cluster's `cog_x, cog_y` (its starting point) by the windowed, background-
/// subtracted centre of gravity of `darkness` (grey levels, larger = darker; any offset), with
/// `labels` the labelling the clusters were measured from (cluster `c.id` has label `id + 1`).
/// A cluster whose window holds no darkness above its background keeps its position.
pub fn refine_positions(
    clusters: &mut [Cluster],
    labels: &[u32],
    width: usize,
    height: usize,
    darkness: &[f32],
) {
    // Starting positions on a grid of 8-px cells, to find each cluster's neighbours.
    let starts: Vec<(f64, f64)> = clusters.iter().map(|c| (c.cog_x, c.cog_y)).collect();
    let cell = |x: f64, y: f64| ((x / 8.0).floor() as i64, (y / 8.0).floor() as i64);
    let mut grid: std::collections::HashMap<(i64, i64), Vec<usize>> = Default::default();
    for (k, &(x, y)) in starts.iter().enumerate() {
        grid.entry(cell(x, y)).or_default().push(k);
    }
    let mut ring = Vec::new();
    let mut near = Vec::new();
    for (k, c) in clusters.iter_mut().enumerate() {
        let own = c.id as u32 + 1;
        let (gx, gy) = cell(starts[k].0, starts[k].1);
        near.clear();
        for dy in -1..=1 {
            for dx in -1..=1 {
                for &j in grid.get(&(gx + dx, gy + dy)).into_iter().flatten() {
                    if j != k {
                        near.push(starts[j]);
                    }
                }
            }
        }
        // Local background: a plane b0 + bx·(x − x̄) + by·(y − ȳ) fitted by least squares to the
        // unlabelled pixels around the bounding box (haze of out-of-focus grains tilts it).
        let m = BACKGROUND_MARGIN;
        let (bx0, by0) = (c.x0.saturating_sub(m), c.y0.saturating_sub(m));
        let (bx1, by1) = ((c.x1 + m).min(width), (c.y1 + m).min(height));
        ring.clear();
        for y in by0..by1 {
            for x in bx0..bx1 {
                let i = y * width + x;
                if labels[i] == 0 {
                    ring.push((x as f64 + 0.5, y as f64 + 0.5, darkness[i] as f64));
                }
            }
        }
        let background = plane(&ring);
        let (mut cx, mut cy) = (c.cog_x, c.cog_y);
        let above = |x: usize, y: usize| {
            darkness[y * width + x] as f64 - background(x as f64 + 0.5, y as f64 + 0.5)
        };
        for _ in 0..MAX_ITERATIONS {
            // Pixels of other clusters, and pixels nearer another cluster's centre than this
            // one's (its tail below the mask), are left out.
            let usable = |i: usize| {
                if labels[i] != 0 && labels[i] != own {
                    return false;
                }
                let (px, py) = ((i % width) as f64 + 0.5, (i / width) as f64 + 0.5);
                let d = (px - cx).powi(2) + (py - cy).powi(2);
                near.iter()
                    .all(|&(nx, ny)| (px - nx).powi(2) + (py - ny).powi(2) >= d)
            };
            let (sw, swx, swy) = window_sums(cx, cy, width, height, &usable, &above);
            if sw <= 0.0 {
                break;
            }
            let (sx, sy) = (swx / sw, swy / sw);
            if sx.abs() > 2.0 || sy.abs() > 2.0 {
                break;
            }
            (cx, cy) = (cx + sx, cy + sy);
            if sx.abs() < 1e-4 && sy.abs() < 1e-4 {
                break;
            }
        }
        (c.cog_x, c.cog_y) = (cx, cy);
    }
}

/// The least-squares plane through `(x, y, value)` points, as a function of (x, y); a constant
/// (the mean) when the points do not span a plane, 0 when there are none.
fn plane(points: &[(f64, f64, f64)]) -> impl Fn(f64, f64) -> f64 + use<> {
    // With no points every sum stays 0, and so does the plane.
    let n = points.len() as f64;
    let (mx, my, mv) = points.iter().fold((0.0, 0.0, 0.0), |a, p| {
        (a.0 + p.0 / n, a.1 + p.1 / n, a.2 + p.2 / n)
    });
    let (mut sxx, mut sxy, mut syy, mut sxv, mut syv) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(x, y, v) in points {
        let (dx, dy, dv) = (x - mx, y - my, v - mv);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
        sxv += dx * dv;
        syv += dy * dv;
    }
    let det = sxx * syy - sxy * sxy;
    let (bx, by) = if det > 1e-9 * (sxx * syy).max(1e-30) {
        ((sxv * syy - syv * sxy) / det, (syv * sxx - sxv * sxy) / det)
    } else {
        (0.0, 0.0)
    };
    move |x: f64, y: f64| mv + bx * (x - mx) + by * (y - my)
}

/// Sums of `value(x, y)` under the Gaussian window ([`WINDOW_SIGMA`], centred on (cx, cy), reach
/// 3σ) over `usable` pixels: Σw, Σw·dx, Σw·dy with (dx, dy) the offset from the centre.
fn window_sums(
    cx: f64,
    cy: f64,
    width: usize,
    height: usize,
    usable: &dyn Fn(usize) -> bool,
    value: &dyn Fn(usize, usize) -> f64,
) -> (f64, f64, f64) {
    let reach = 3.0 * WINDOW_SIGMA;
    let inv = 1.0 / (2.0 * WINDOW_SIGMA * WINDOW_SIGMA);
    let xa = ((cx - reach).floor().max(0.0)) as usize;
    let ya = ((cy - reach).floor().max(0.0)) as usize;
    let xb = ((cx + reach).ceil().max(0.0) as usize).min(width);
    let yb = ((cy + reach).ceil().max(0.0) as usize).min(height);
    let (mut sw, mut swx, mut swy) = (0.0, 0.0, 0.0);
    for y in ya..yb {
        for x in xa..xb {
            if !usable(y * width + x) {
                continue;
            }
            let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
            let w = (-(dx * dx + dy * dy) * inv).exp() * value(x, y);
            sw += w;
            swx += w * dx;
            swy += w * dy;
        }
    }
    (sw, swx, swy)
}
