//! Blends: two grains so close (under about 2.5 px for focused ones) that their spots sum to a
//! single maximum, so no watershed can split them, yet the pair is one cluster whose centre sits
//! between the grains. Each cluster is fitted with one and with two Gaussian spots on a plane
//! background ([`crate::spotfit`]); where two spots explain the darkness better by more than
//! noise can ([`MIN_CHI2_GAIN`] in units of the noise variance), and both are real grains
//! (amplitude, separation), the cluster is split between them: every pixel goes to the spot
//! whose model is darker there, and the pieces' positions are the fitted centres.

use crate::clusters::number_in_raster_order;
use crate::spotfit::{Spot, fit_spots};

/// Clusters smaller than this (pixels) are single grains: a pair of grains covers more.
pub const MIN_AREA: usize = 6;
/// Margin (px) around a cluster's bounding box that the fit sees (the background plane's pixels).
pub const MARGIN: usize = 2;
/// The drop in χ² from one to two spots, in units of the noise variance, that makes a blend.
/// With Gaussian spots (this project's simulator) 20–30 would do: at 10, 2 of 200 defocused single
/// grains split (`tests/split.rs`), and on nominal frames with the truth mask efficiency is 0.993
/// / 0.990 / 0.987 at 20 / 40 / 80. Frames of the independent simulator
/// (`tests/independent/second_sim.py`: flat-topped defocused discs, astigmatism) split single
/// grains at 30: a median gain of 43 for false splits against ~200–300 for true pairs. The three
/// thresholds here were chosen together on development frames of both simulators (seeds 77001
/// and 78002 of the second, 5001–5004 of ours; see the README).
pub const MIN_CHI2_GAIN: f64 = 60.0;
/// A blend's darkness moments must be elongated, λ_major − λ_minor ≥ this × (separation / 2)²
/// (two equal round spots give exactly (separation / 2)²).
pub const MIN_ELONGATION: f64 = 0.3;
/// A blend's spots must stand this many σ (of the narrower one) apart.
pub const MIN_SEPARATION_SIGMAS: f64 = 1.6;
/// Each spot of a blend must rise this many noise σ above the background.
pub const MIN_AMPLITUDE_SIGMAS: f64 = 4.0;
/// And its centre must lie this far from the other's (px).
pub const MIN_SEPARATION: f64 = 1.0;

/// A labelling with blends split: the new labels and count (raster order of each cluster's first
/// pixel) and, per cluster, the fitted centre where it is one of a blend's two pieces.
pub struct Deblended {
    /// Per pixel: 0 = background, k = cluster k − 1.
    pub labels: Vec<u32>,
    /// Number of clusters after the split.
    pub count: usize,
    /// Per cluster: the fitted spot centre (x, y in px, pixel centres at +0.5) of a blend's piece.
    pub centres: Vec<Option<(f64, f64)>>,
}

/// Splits the blends among the `count` clusters of `labels` over `darkness` (grey levels, larger
/// = darker) in a frame with noise σ `noise`.
pub fn split_blends(
    labels: &[u32],
    count: usize,
    width: usize,
    height: usize,
    darkness: &[f32],
    noise: f64,
) -> Deblended {
    let mut pixels: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, &l) in labels.iter().enumerate() {
        if l != 0 {
            pixels[l as usize - 1].push(i);
        }
    }
    let variance = noise.max(0.5).powi(2);
    let mut out = labels.to_vec();
    let mut next = count as u32;
    let mut centres: Vec<Option<(f64, f64)>> = vec![None; count];
    let mut samples = Vec::new();
    for (k, own) in pixels.iter().enumerate() {
        if own.len() < MIN_AREA {
            continue;
        }
        let label = k as u32 + 1;
        // Darkness-weighted moments of the cluster: the start of both fits.
        let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
        let mut peak = 0f64;
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for &i in own {
            let (x, y) = (i % width, i / width);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            let w = (darkness[i] as f64).max(0.0);
            sw += w;
            sx += w * (x as f64 + 0.5);
            sy += w * (y as f64 + 0.5);
            peak = peak.max(darkness[i] as f64);
        }
        if sw <= 0.0 {
            continue;
        }
        let (cx, cy) = (sx / sw, sy / sw);
        let (mut mxx, mut mxy, mut myy) = (0.0, 0.0, 0.0);
        for &i in own {
            let w = (darkness[i] as f64).max(0.0);
            let (dx, dy) = ((i % width) as f64 + 0.5 - cx, (i / width) as f64 + 0.5 - cy);
            mxx += w * dx * dx / sw;
            mxy += w * dx * dy / sw;
            myy += w * dy * dy / sw;
        }
        // Major axis of the moments: a pair of spots lies along it, ±a from the centre, with
        // a² ≈ λ_major − λ_minor for two equal spots.
        let half = 0.5 * (mxx - myy);
        let root = (half * half + mxy * mxy).sqrt();
        let (major, minor) = (0.5 * (mxx + myy) + root, 0.5 * (mxx + myy) - root);
        let angle = 0.5 * (2.0 * mxy).atan2(mxx - myy);
        let (ux, uy) = (angle.cos(), angle.sin());
        let a = (major - minor).max(0.25).sqrt();

        samples.clear();
        let (wx0, wy0) = (x0.saturating_sub(MARGIN), y0.saturating_sub(MARGIN));
        let (wx1, wy1) = ((x1 + 1 + MARGIN).min(width), (y1 + 1 + MARGIN).min(height));
        let mut ring = Vec::new();
        for y in wy0..wy1 {
            for x in wx0..wx1 {
                let i = y * width + x;
                if labels[i] == 0 || labels[i] == label {
                    samples.push((x as f64 + 0.5, y as f64 + 0.5, darkness[i] as f64));
                    if labels[i] == 0 {
                        ring.push(darkness[i]);
                    }
                }
            }
        }
        let background = if ring.is_empty() {
            0.0
        } else {
            let mid = ring.len() / 2;
            *ring.select_nth_unstable_by(mid, f32::total_cmp).1 as f64
        };
        let sigma = minor.max(0.25).sqrt();
        let one = Spot {
            x: cx,
            y: cy,
            amplitude: (peak - background).max(1.0),
            sigma,
        };
        let Some(fit1) = fit_spots(&samples, &[one], [background, 0.0, 0.0]) else {
            continue;
        };
        let pair = [-1.0, 1.0].map(|s| Spot {
            x: cx + s * a * ux,
            y: cy + s * a * uy,
            amplitude: 0.7 * fit1.spots[0].amplitude,
            sigma: (0.8 * fit1.spots[0].sigma).max(crate::spotfit::SIGMA_MIN),
        });
        let Some(fit2) = fit_spots(&samples, &pair, fit1.plane) else {
            continue;
        };
        let [p, q] = [fit2.spots[0], fit2.spots[1]];
        let inside = |s: &Spot| {
            s.x >= x0 as f64 && s.x <= x1 as f64 + 1.0 && s.y >= y0 as f64 && s.y <= y1 as f64 + 1.0
        };
        let separation = ((p.x - q.x).powi(2) + (p.y - q.y).powi(2)).sqrt();
        let min_amplitude = MIN_AMPLITUDE_SIGMAS * noise.max(0.5);
        // A single spot that is not Gaussian (a flat-topped defocused disc, an astigmatic
        // ellipse) is also fitted better by two; a real pair is elongated along the line through
        // its spots by about (separation / 2)², and its spots stand apart by more than their width.
        let elongation = major - minor;
        if (fit1.chi2 - fit2.chi2) / variance < MIN_CHI2_GAIN
            || elongation < MIN_ELONGATION * (separation / 2.0).powi(2)
            || separation < MIN_SEPARATION_SIGMAS * p.sigma.min(q.sigma)
            || p.amplitude < min_amplitude
            || q.amplitude < min_amplitude
            || separation < MIN_SEPARATION
            || !inside(&p)
            || !inside(&q)
        {
            continue;
        }
        let to_q: Vec<usize> = own
            .iter()
            .copied()
            .filter(|&i| {
                let (x, y) = ((i % width) as f64 + 0.5, (i / width) as f64 + 0.5);
                q.at(x, y) > p.at(x, y)
            })
            .collect();
        if to_q.is_empty() || to_q.len() == own.len() {
            continue;
        }
        next += 1;
        for &i in &to_q {
            out[i] = next;
        }
        centres[k] = Some((p.x, p.y));
        centres.push(Some((q.x, q.y)));
    }
    // Renumber in raster order of each cluster's first pixel, like the labelling.
    let order = number_in_raster_order(&mut out, next as usize + 1, |l| l);
    Deblended {
        labels: out,
        count: order.len(),
        centres: order.iter().map(|&old| centres[old as usize - 1]).collect(),
    }
}
