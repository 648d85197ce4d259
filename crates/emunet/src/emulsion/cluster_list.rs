//! From a frame and its network mask to the cluster list `segment` writes: 8-connected labelling,
//! optional splitting at separate grains (a watershed, [`crate::split`], then two-spot fits for
//! blends too close for a saddle, [`crate::deblend`]), measurement weighted by darkness
//! `max(0, median − p)` (emulsion.md), and sub-pixel positions ([`crate::subpixel`]; a blend's
//! pieces keep their fitted centres) in `cog_x, cog_y`.

use crate::clusters::{self, Cluster, Connectivity};
use crate::deblend::split_blends;
use crate::frame::Frame;
use crate::reference::frame_median;
use crate::split::{min_dynamic_for_noise, noise_sigma, split_clusters};

/// Per pixel, `(median − p) · 255 / max`: darkness in 8-bit grey levels against the frame's
/// `median` (its raw value), signed (the background scatters around 0), with the camera's column
/// pattern taken out ([`remove_column_pattern`]).
pub fn darkness_gl(frame: &Frame, median: f32) -> Vec<f32> {
    let scale = 255.0 / frame.max_value() as f32;
    let mut d: Vec<f32> = (0..frame.len())
        .map(|i| (median - frame.value(i) as f32) * scale)
        .collect();
    remove_column_pattern(&mut d, frame.width, frame.height);
    d
}

/// Half-width (columns) of the running mean that separates the smooth illumination from the
/// column pattern.
const COLUMN_TREND_HALF: usize = 16;

/// Subtracts the camera's column fixed pattern, estimated from the frame itself: each column's
/// median (grains and haze barely move it) minus a running mean of those medians over
/// ±`COLUMN_TREND_HALF` columns (which keeps the smooth vignetting).
pub fn remove_column_pattern(d: &mut [f32], width: usize, height: usize) {
    if height < 8 || width < 2 * COLUMN_TREND_HALF + 1 {
        return;
    }
    let mut column = vec![0f32; height];
    let medians: Vec<f32> = (0..width)
        .map(|x| {
            for (y, c) in column.iter_mut().enumerate() {
                *c = d[y * width + x];
            }
            *column.select_nth_unstable_by(height / 2, f32::total_cmp).1
        })
        .collect();
    let offsets: Vec<f32> = (0..width)
        .map(|x| {
            let (a, b) = (
                x.saturating_sub(COLUMN_TREND_HALF),
                (x + COLUMN_TREND_HALF + 1).min(width),
            );
            let trend = medians[a..b].iter().sum::<f32>() / (b - a) as f32;
            medians[x] - trend
        })
        .collect();
    for row in d.chunks_exact_mut(width) {
        for (v, o) in row.iter_mut().zip(&offsets) {
            *v -= o;
        }
    }
}

/// A frame's clusters with the labelling they were measured from.
pub struct ClusterMap {
    /// The clusters, `id` = index, weighted by `max(0, median − p)`, with sub-pixel `cog_x, cog_y`.
    pub clusters: Vec<Cluster>,
    /// Per pixel: 0 = background, k = `clusters[k − 1]`.
    pub labels: Vec<u32>,
    /// Per cluster: it is one of several pieces of a connected component split at separate
    /// grains.
    pub split: Vec<bool>,
    /// Per pixel, the darkness in 8-bit grey levels that splitting, deblending and sub-pixel
    /// refinement use ([`darkness_gl`]); volumes, peaks and raw centres of gravity are measured
    /// on the frame's own values.
    pub darkness: Vec<f32>,
}

/// The clusters of `mask` (non-zero = on) over `frame`: split at separate grains when `split`,
/// volume, peak and the unrefined centre of gravity weighted by `max(0, median − p)` in the
/// frame's own units, then `cog_x, cog_y` refined to sub-pixel positions.
pub fn frame_clusters(frame: &Frame, mask: &[u8], split: bool) -> ClusterMap {
    let (w, h) = (frame.width, frame.height);
    let median = frame_median(frame) as f32;
    let darkness = darkness_gl(frame, median);
    let (components, n) = clusters::label(mask, w, h, Connectivity::Eight);
    // Per cluster, the fitted centre where it is one piece of a blend.
    let (labels, count, split, blend_centres) = if split && n > 0 {
        let noise = noise_sigma(&darkness, w, h);
        let dynamic = min_dynamic_for_noise(noise);
        let (pieces, count) = split_clusters(&components, w, h, &darkness, dynamic);
        let d = split_blends(&pieces, count, w, h, &darkness, noise);
        let split = split_pieces(&d.labels, d.count, &components, n);
        (d.labels, d.count, split, d.centres)
    } else {
        (components, n, vec![false; n], vec![None; n])
    };
    let weight: Vec<f32> = (0..frame.len())
        .map(|i| (median - frame.value(i) as f32).max(0.0))
        .collect();
    let mut found = clusters::measure(&labels, count, w, Some(&weight), (0.0, 0.0));
    crate::subpixel::refine_positions(&mut found, &labels, w, h, &darkness);
    for (c, centre) in found.iter_mut().zip(&blend_centres) {
        if let Some((x, y)) = *centre {
            (c.cog_x, c.cog_y) = (x, y);
        }
    }
    ClusterMap {
        clusters: found,
        labels,
        split,
        darkness,
    }
}

/// Per piece of `labels`: whether its connected component (in `components`) holds more than one
/// piece.
fn split_pieces(labels: &[u32], count: usize, components: &[u32], n: usize) -> Vec<bool> {
    let mut pieces = vec![0usize; n];
    let mut component_of = vec![0u32; count];
    for (&piece, &component) in labels.iter().zip(components) {
        if piece != 0 && component_of[piece as usize - 1] == 0 {
            component_of[piece as usize - 1] = component;
            pieces[component as usize - 1] += 1;
        }
    }
    component_of
        .iter()
        .map(|&c| pieces[c as usize - 1] > 1)
        .collect()
}
