//! Frames at another pixel size than the model was trained at: the frame resampled to the
//! model's scale before the network, and the probabilities resampled back to the frame's own
//! pixels after it, so that masks, clusters, positions, areas and moments are the frame's.
//!
//! Coordinates: pixel `i` covers `[i, i + 1)`; a point `x` frame pixels from the frame's edge is
//! `x · factor` model pixels from it, with `factor` = frame pixel / model pixel. Frame to model:
//! each model pixel averages the frame over its footprint (a coarser model pixel integrates
//! light as a camera pixel does) where the model's pixel is the larger, and is the cubic
//! (Catmull–Rom) interpolation of the frame where it is the smaller. Model to frame: bilinear
//! interpolation of the probabilities at each frame pixel's centre.

use crate::error::{Error, Result};
use crate::frame::Frame;

/// The pixel size the shipped model was trained at, and the default of a weights file without a
/// `pixel_um` key: the simulator's nominal 0.30 µm (its `mixed` frames span 0.28–0.36 µm).
pub const DEFAULT_MODEL_PIXEL_UM: f64 = 0.30;

/// Below this relative difference of the two pixel sizes, frames are not resampled.
pub const TOLERANCE: f64 = 0.005;

/// Largest side of a resampled frame (as the simulator's and the engine's frames).
const MAX_SIDE: usize = 16384;

/// The two grids of one frame: the frame's own and the model's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rescale {
    /// The frame's width and height (its pixels).
    pub frame: (usize, usize),
    /// The resampled frame's width and height (the model's pixels).
    pub model: (usize, usize),
    /// Frame pixel size / model pixel size.
    pub factor: f64,
}

impl Rescale {
    /// The grids for a `width × height` frame of `frame_um` pixels and a model trained at
    /// `model_um`: `None` when the sizes agree within [`TOLERANCE`]; an error for a size that is
    /// not a positive finite number, or a resampled frame under 1 or over 16384 pixels a side.
    pub fn new(width: usize, height: usize, frame_um: f64, model_um: f64) -> Result<Option<Self>> {
        for (what, um) in [("frame", frame_um), ("model", model_um)] {
            if !(um.is_finite() && um > 0.0) {
                return Err(Error::Shape(format!(
                    "the {what}'s pixel size must be a positive number of µm, not {um}"
                )));
            }
        }
        let factor = frame_um / model_um;
        if (factor - 1.0).abs() <= TOLERANCE {
            return Ok(None);
        }
        let side = |n: usize| (n as f64 * factor).round() as usize;
        let model = (side(width), side(height));
        if model.0 < 1 || model.1 < 1 || model.0 > MAX_SIDE || model.1 > MAX_SIDE {
            return Err(Error::Shape(format!(
                "a {width}×{height} frame of {frame_um} µm pixels is {}×{} pixels at the model's \
                 {model_um} µm: outside 1..={MAX_SIDE}",
                model.0, model.1
            )));
        }
        Ok(Some(Rescale {
            frame: (width, height),
            model,
            factor,
        }))
    }

    /// `frame` on the model's grid, in the frame's bit depth (rounded to whole grey levels).
    pub fn frame_to_model(&self, frame: &Frame) -> Result<Frame> {
        let (w, h) = self.frame;
        if (frame.width, frame.height) != (w, h) {
            return Err(Error::Shape(format!(
                "a rescale planned for {w}×{h} frames got a {}×{} one",
                frame.width, frame.height
            )));
        }
        let values: Vec<f32> = (0..frame.len()).map(|i| frame.value(i) as f32).collect();
        let (mw, mh) = self.model;
        let weights = |n_src, n_dst| match self.factor < 1.0 {
            true => area_weights(n_src, n_dst, self.factor),
            false => cubic_weights(n_src, n_dst, self.factor),
        };
        let mut out = resample(&values, (w, h), (mw, mh), &weights(w, mw), &weights(h, mh));
        sharpen(&mut out, mw, mh, self.excess_variance());
        let max = frame.max_value() as f32;
        let level = |v: f32| (v.round().clamp(0.0, max)) as u32;
        match frame.bits() {
            8 => Frame::from_u8(mw, mh, out.iter().map(|&v| level(v) as u8).collect()),
            _ => Frame::from_u16(mw, mh, out.iter().map(|&v| level(v) as u16).collect()),
        }
    }

    /// The blur (variance, model px²) the resampled frame has beyond a frame taken at the
    /// model's pixel: a camera pixel integrates light over its square (variance pixel²/12), so a
    /// native frame has the model pixel's; downsampling adds the frame pixel's square to the
    /// footprint average's (the model pixel's), cubic upsampling keeps the frame pixel's
    /// (larger) one. [`Rescale::frame_to_model`] takes it out
    /// (a first-order inverse of that blur).
    pub fn excess_variance(&self) -> f64 {
        let frame_px2 = self.factor * self.factor; // the frame pixel² in model px²
        let extra = match self.factor < 1.0 {
            true => frame_px2 / 12.0,
            false => (frame_px2 - 1.0) / 12.0,
        };
        extra.max(0.0)
    }

    /// Probabilities on the model's grid (row-major `model.1 × model.0`) interpolated at the
    /// centres of the frame's pixels.
    pub fn prob_to_frame(&self, prob: &[f32]) -> Vec<f32> {
        let (w, h) = self.frame;
        let (mw, mh) = self.model;
        let to = 1.0 / self.factor;
        resample(
            prob,
            (mw, mh),
            (w, h),
            &linear_weights(mw, w, to),
            &linear_weights(mh, h, to),
        )
    }
}

/// Per destination index, the (source index, weight) pairs whose weighted sum it is.
type Weights = Vec<Vec<(usize, f32)>>;

/// Area weights from `n_src` pixels to `n_dst` larger ones (`scale` = destination coordinate per
/// source coordinate, < 1): destination pixel `i` covers source `[i/scale, (i+1)/scale)`, each
/// source pixel weighted by its overlap, the weights normalised (the last pixel may reach past
/// the frame's edge).
fn area_weights(n_src: usize, n_dst: usize, scale: f64) -> Weights {
    (0..n_dst)
        .map(|i| {
            let (a, b) = (i as f64 / scale, (i + 1) as f64 / scale);
            let first = (a.floor() as usize).min(n_src - 1);
            let last = (b.ceil() as usize).clamp(first + 1, n_src);
            let pairs: Vec<(usize, f64)> = (first..last)
                .map(|k| (k, (b.min(k as f64 + 1.0) - a.max(k as f64)).max(0.0)))
                .filter(|&(_, w)| w > 0.0)
                .collect();
            let total: f64 = pairs.iter().map(|p| p.1).sum();
            match total > 0.0 {
                true => pairs
                    .into_iter()
                    .map(|(k, w)| (k, (w / total) as f32))
                    .collect(),
                false => vec![(first, 1.0)],
            }
        })
        .collect()
}

/// Bilinear weights from `n_src` to `n_dst` pixels: destination pixel `i`'s centre
/// `(i + 0.5) / scale` in source coordinates, between the two nearest source centres (clamped at
/// the edges).
fn linear_weights(n_src: usize, n_dst: usize, scale: f64) -> Weights {
    (0..n_dst)
        .map(|i| {
            let c = ((i as f64 + 0.5) / scale - 0.5).clamp(0.0, (n_src - 1) as f64);
            let k = (c.floor() as usize).min(n_src - 1);
            let t = c - k as f64;
            match k + 1 < n_src && t > 0.0 {
                true => vec![(k, (1.0 - t) as f32), (k + 1, t as f32)],
                false => vec![(k, 1.0)],
            }
        })
        .collect()
}

/// Cubic convolution weights (Keys, a = −½: Catmull–Rom) from `n_src` to `n_dst` pixels, at
/// destination centres as [`linear_weights`], edge pixels repeated. Unlike bilinear
/// interpolation, which blurs by a variance of a sixth of a source pixel² on average, it
/// reproduces quadratics and so adds no blur to second order: upsampled grains keep the
/// apparent width the model takes for in focus.
fn cubic_weights(n_src: usize, n_dst: usize, scale: f64) -> Weights {
    let keys = |x: f64| {
        let x = x.abs();
        if x <= 1.0 {
            (1.5 * x - 2.5) * x * x + 1.0
        } else if x < 2.0 {
            ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
        } else {
            0.0
        }
    };
    (0..n_dst)
        .map(|i| {
            let c = (i as f64 + 0.5) / scale - 0.5;
            let k = c.floor();
            let t = c - k;
            let taps = [
                (-1.0, keys(1.0 + t)),
                (0.0, keys(t)),
                (1.0, keys(1.0 - t)),
                (2.0, keys(2.0 - t)),
            ];
            let mut pairs: Vec<(usize, f32)> = Vec::with_capacity(4);
            for (offset, w) in taps {
                let j = (k + offset).clamp(0.0, (n_src - 1) as f64) as usize;
                match pairs.iter_mut().find(|p| p.0 == j) {
                    Some(p) => p.1 += w as f32,
                    None => pairs.push((j, w as f32)),
                }
            }
            pairs.retain(|p| p.1 != 0.0);
            pairs
        })
        .collect()
}

/// Takes a Gaussian blur of variance `v` (px²) out of an image to first order: `f − (v/2)·∇²f`
/// (5-point Laplacian, edges repeated), the inverse of the heat equation's step. Small `v` only
/// (at most a few tenths of a pixel²): the resampling's own excess over a native frame.
fn sharpen(image: &mut [f32], w: usize, h: usize, v: f64) {
    if v <= 0.0 {
        return;
    }
    let c = (v / 2.0) as f32;
    let src = image.to_vec();
    let at = |x: usize, y: usize| src[y * w + x];
    for y in 0..h {
        for x in 0..w {
            let lap = at(x.saturating_sub(1), y)
                + at((x + 1).min(w - 1), y)
                + at(x, y.saturating_sub(1))
                + at(x, (y + 1).min(h - 1))
                - 4.0 * at(x, y);
            image[y * w + x] = at(x, y) - c * lap;
        }
    }
}

/// Separable resampling of a row-major `src.1 × src.0` image: rows by `wx`, then columns by `wy`.
fn resample(
    image: &[f32],
    src: (usize, usize),
    dst: (usize, usize),
    wx: &Weights,
    wy: &Weights,
) -> Vec<f32> {
    let (sw, sh) = src;
    let (dw, dh) = dst;
    let mut rows = vec![0f32; dw * sh];
    for y in 0..sh {
        let line = &image[y * sw..(y + 1) * sw];
        for (x, pairs) in wx.iter().enumerate() {
            rows[y * dw + x] = pairs.iter().map(|&(k, w)| w * line[k]).sum();
        }
    }
    let mut out = vec![0f32; dw * dh];
    for (y, pairs) in wy.iter().enumerate() {
        for x in 0..dw {
            out[y * dw + x] = pairs.iter().map(|&(k, w)| w * rows[k * dw + x]).sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sizes_are_not_resampled_and_bad_sizes_are_refused() {
        assert_eq!(Rescale::new(100, 80, 0.3, 0.3).unwrap(), None);
        assert_eq!(Rescale::new(100, 80, 0.301, 0.3).unwrap(), None);
        for bad in [0.0, -0.2, f64::NAN, f64::INFINITY] {
            assert!(Rescale::new(100, 80, bad, 0.3).is_err(), "{bad}");
            assert!(Rescale::new(100, 80, 0.3, bad).is_err(), "{bad}");
        }
        assert!(Rescale::new(1, 1, 0.01, 0.3).is_err(), "rounds to 0 pixels");
        assert!(
            Rescale::new(10000, 10, 0.9, 0.3).is_err(),
            "30000 pixels wide"
        );
    }

    #[test]
    fn grids_follow_the_pixel_sizes() {
        let r = Rescale::new(1280, 1024, 0.2, 0.3).unwrap().unwrap();
        assert_eq!(r.model, (853, 683));
        let r = Rescale::new(1280, 1024, 0.4, 0.3).unwrap().unwrap();
        assert_eq!(r.model, (1707, 1365));
    }

    /// Every weight list sums to 1 (a flat frame stays flat) and stays inside the source; only
    /// the cubic ones may be negative.
    #[test]
    fn weights_are_normalised_and_in_range() {
        for (n_src, scale) in [
            (7, 0.5),
            (10, 0.667),
            (9, 0.75),
            (5, 1.5),
            (13, 1.333),
            (1, 2.0),
        ] {
            let n_dst = ((n_src as f64 * scale).round() as usize).max(1);
            for (w, signed) in [
                (area_weights(n_src, n_dst, scale), false),
                (linear_weights(n_src, n_dst, scale), false),
                (cubic_weights(n_src, n_dst, scale), true),
            ] {
                for pairs in &w {
                    let sum: f32 = pairs.iter().map(|p| p.1).sum();
                    assert!((sum - 1.0).abs() < 1e-5, "{n_src} {scale}: {pairs:?}");
                    assert!(
                        pairs
                            .iter()
                            .all(|&(k, w)| k < n_src && (signed || w >= 0.0))
                    );
                }
            }
        }
    }

    /// Area averaging at an integer ratio is the mean of each block, exactly.
    #[test]
    fn halving_averages_two_by_two_blocks() {
        let data: Vec<f32> = (0..16).map(|i| (i * 10) as f32).collect();
        let w = area_weights(4, 2, 0.5);
        let got = resample(&data, (4, 4), (2, 2), &w, &w);
        let mean =
            |a: usize, b: usize, c: usize, d: usize| (data[a] + data[b] + data[c] + data[d]) / 4.0;
        let want = [
            mean(0, 1, 4, 5),
            mean(2, 3, 6, 7),
            mean(8, 9, 12, 13),
            mean(10, 11, 14, 15),
        ];
        assert_eq!(got, want);
    }

    /// The sharpening takes a blur's variance out: a Gaussian spot of variance 2 px² comes out
    /// with 2 − v (second moment of its darkening), a flat image stays flat; the excess is the
    /// frame pixel's square going down and the difference of the squares going up.
    #[test]
    fn sharpening_takes_the_excess_variance_out() {
        let (w, h) = (41, 41);
        let spot: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32 - 20.0, (i / w) as f32 - 20.0);
                100.0 * (-(x * x + y * y) / 4.0).exp()
            })
            .collect();
        let variance = |img: &[f32]| {
            let total: f32 = img.iter().sum();
            let xx: f32 = img
                .iter()
                .enumerate()
                .map(|(i, v)| v * ((i % w) as f32 - 20.0).powi(2))
                .sum();
            xx / total
        };
        assert!((variance(&spot) - 2.0).abs() < 0.01);
        let mut sharp = spot.clone();
        sharpen(&mut sharp, w, h, 0.3);
        assert!(
            (variance(&sharp) - 1.7).abs() < 0.02,
            "{}",
            variance(&sharp)
        );
        let mut flat = vec![7.0f32; 30];
        sharpen(&mut flat, 6, 5, 0.3);
        assert!(flat.iter().all(|&v| (v - 7.0).abs() < 1e-6));
        let down = Rescale::new(100, 100, 0.2, 0.3).unwrap().unwrap();
        assert!((down.excess_variance() - (2.0f64 / 3.0).powi(2) / 12.0).abs() < 1e-9);
        let up = Rescale::new(100, 100, 0.4, 0.3).unwrap().unwrap();
        assert!((up.excess_variance() - ((4.0f64 / 3.0).powi(2) - 1.0) / 12.0).abs() < 1e-9);
    }

    /// A linear ramp comes back as the same ramp (inside the edge pixels), both ways and at a
    /// non-integer ratio, within a quarter of a pixel's step (area averaging of the pixels'
    /// constant values at footprints that straddle them) — a shift by half a pixel would be
    /// twice that; 16-bit frames keep their depth.
    #[test]
    fn a_ramp_survives_the_round_trip() {
        let (w, h) = (60, 9);
        let ramp: Vec<u16> = (0..w * h).map(|i| (1000 + 40 * (i % w)) as u16).collect();
        let frame = Frame::from_u16(w, h, ramp.clone()).unwrap();
        for frame_um in [0.2, 0.45] {
            let r = Rescale::new(w, h, frame_um, 0.3).unwrap().unwrap();
            let model = r.frame_to_model(&frame).unwrap();
            assert_eq!(model.bits(), 16);
            let values: Vec<f32> = (0..model.len()).map(|i| model.value(i) as f32).collect();
            let back = r.prob_to_frame(&values);
            assert_eq!(back.len(), w * h);
            for y in 0..h {
                for x in 3..w - 3 {
                    let want = ramp[y * w + x] as f32;
                    let got = back[y * w + x];
                    let tolerance = 0.25 * 40.0 + 1.0;
                    assert!(
                        (got - want).abs() <= tolerance,
                        "{frame_um}: ({x},{y}) {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_frame_of_another_size_is_refused() {
        let r = Rescale::new(10, 10, 0.2, 0.3).unwrap().unwrap();
        let frame = Frame::from_u8(11, 10, vec![0; 110]).unwrap();
        assert!(r.frame_to_model(&frame).is_err());
    }
}
