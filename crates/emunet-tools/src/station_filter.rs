//! The smoothing a station's acquisition applies to its frames before anyone sees them (a noise
//! filter): `simulate --filter` renders frames as such a station would deliver them, the truth
//! unchanged, so that what the filter does to grains can be measured with exact truth.

use emunet::frame::Frame;
use std::fmt;
use std::str::FromStr;

/// A station's frame filter. Edges are extended by repeating the border pixels; results are
/// rounded to whole grey levels in the frame's own bit depth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StationFilter {
    /// A Gaussian of this σ (pixels), truncated at 3 σ.
    Gaussian(f64),
    /// The mean over a square of this (odd) side.
    Box(usize),
    /// The median over a square of this (odd) side.
    Median(usize),
}

impl FromStr for StationFilter {
    type Err = String;

    /// `gaussian:S` (σ in pixels, 0 < S ≤ 10), `box:N` or `median:N` (odd N, 3 ≤ N ≤ 15).
    fn from_str(text: &str) -> Result<Self, String> {
        let usage =
            "expected gaussian:SIGMA (0 < SIGMA <= 10 px), box:N or median:N (odd N, 3..=15)";
        let (kind, size) = text.split_once(':').ok_or(usage)?;
        let odd = |n: &str| match n.parse::<usize>() {
            Ok(n) if n % 2 == 1 && (3..=15).contains(&n) => Ok(n),
            _ => Err(usage.to_string()),
        };
        match kind {
            "gaussian" => match size.parse::<f64>() {
                Ok(s) if s > 0.0 && s <= 10.0 => Ok(StationFilter::Gaussian(s)),
                _ => Err(usage.into()),
            },
            "box" => odd(size).map(StationFilter::Box),
            "median" => odd(size).map(StationFilter::Median),
            _ => Err(usage.into()),
        }
    }
}

impl fmt::Display for StationFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StationFilter::Gaussian(s) => write!(f, "gaussian:{s}"),
            StationFilter::Box(n) => write!(f, "box:{n}"),
            StationFilter::Median(n) => write!(f, "median:{n}"),
        }
    }
}

impl StationFilter {
    /// `frame` as the station delivers it.
    pub fn apply(&self, frame: &Frame) -> Frame {
        let (w, h) = (frame.width, frame.height);
        let values: Vec<f64> = (0..frame.len()).map(|i| frame.value(i) as f64).collect();
        let out = match *self {
            StationFilter::Gaussian(sigma) => {
                let r = (3.0 * sigma).ceil() as isize;
                let taps: Vec<f64> = (-r..=r)
                    .map(|d| libm::exp(-((d * d) as f64) / (2.0 * sigma * sigma)))
                    .collect();
                let sum: f64 = taps.iter().sum();
                let taps: Vec<f64> = taps.iter().map(|t| t / sum).collect();
                separable(&values, w, h, &taps)
            }
            StationFilter::Box(n) => separable(&values, w, h, &vec![1.0 / n as f64; n]),
            StationFilter::Median(n) => median(&values, w, h, n),
        };
        let max = frame.max_value() as f64;
        let level = |v: f64| v.round().clamp(0.0, max) as u32;
        let rebuilt = match frame.bits() {
            8 => Frame::from_u8(w, h, out.iter().map(|&v| level(v) as u8).collect()),
            _ => Frame::from_u16(w, h, out.iter().map(|&v| level(v) as u16).collect()),
        };
        rebuilt.expect("the frame's own size")
    }
}

/// The pixel at (x + dx, y + dy), edges repeated.
fn at(values: &[f64], w: usize, h: usize, x: usize, y: usize, dx: isize, dy: isize) -> f64 {
    let cx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
    let cy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
    values[cy * w + cx]
}

/// Rows, then columns, by the centred `taps`.
fn separable(values: &[f64], w: usize, h: usize, taps: &[f64]) -> Vec<f64> {
    let r = (taps.len() / 2) as isize;
    let pass = |src: &[f64], horizontal: bool| -> Vec<f64> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                taps.iter()
                    .enumerate()
                    .map(|(k, t)| {
                        let d = k as isize - r;
                        let (dx, dy) = if horizontal { (d, 0) } else { (0, d) };
                        t * at(src, w, h, x, y, dx, dy)
                    })
                    .sum()
            })
            .collect()
    };
    pass(&pass(values, true), false)
}

/// The median of each n × n window.
fn median(values: &[f64], w: usize, h: usize, n: usize) -> Vec<f64> {
    let r = (n / 2) as isize;
    let mut window = Vec::with_capacity(n * n);
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            window.clear();
            for dy in -r..=r {
                for dx in -r..=r {
                    window.push(at(values, w, h, x, y, dx, dy));
                }
            }
            let mid = window.len() / 2;
            *window.select_nth_unstable_by(mid, f64::total_cmp).1
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_print() {
        for text in ["gaussian:0.8", "box:3", "median:5"] {
            let f: StationFilter = text.parse().unwrap();
            assert_eq!(f.to_string(), text);
        }
        for bad in [
            "gaussian",
            "gaussian:0",
            "gaussian:-1",
            "gaussian:11",
            "box:2",
            "box:1",
            "median:17",
            "sharpen:3",
            "box:x",
        ] {
            assert!(bad.parse::<StationFilter>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_impulse_spreads_as_each_filter_says() {
        let (w, h) = (9, 9);
        let mut data = vec![100u8; w * h];
        data[4 * w + 4] = 10; // a one-pixel dark speck
        let frame = Frame::from_u8(w, h, data).unwrap();
        let flat = Frame::from_u8(w, h, vec![100; w * h]).unwrap();
        for f in [
            StationFilter::Gaussian(0.8),
            StationFilter::Box(3),
            StationFilter::Median(3),
        ] {
            assert_eq!(f.apply(&flat), flat, "{f}: a flat frame stays flat");
        }
        // Box 3: the speck's deficit of 90 spread over 9 pixels (10 each).
        let boxed = StationFilter::Box(3).apply(&frame);
        assert_eq!(boxed.value(4 * w + 4), 90);
        assert_eq!(boxed.value(3 * w + 5), 90);
        assert_eq!(boxed.value(2 * w + 4), 100);
        // Median 3: one pixel in nine is not the median: the speck is gone.
        assert_eq!(StationFilter::Median(3).apply(&frame), flat);
        // Gaussian 0.8: the deficit is kept (to rounding) and the centre keeps the most of it.
        let g = StationFilter::Gaussian(0.8).apply(&frame);
        let deficit: i64 = (0..w * h).map(|i| 100 - g.value(i) as i64).sum();
        assert!(
            (deficit - 90).abs() <= 6,
            "{deficit} (pixels under half a level round away)"
        );
        assert!(g.value(4 * w + 4) < g.value(4 * w + 5) && g.value(4 * w + 5) < 100);
    }

    #[test]
    fn sixteen_bit_frames_keep_their_depth() {
        let frame = Frame::from_u16(5, 4, (0..20).map(|i| i * 3000).collect()).unwrap();
        let out = StationFilter::Gaussian(1.0).apply(&frame);
        assert_eq!((out.bits(), out.width, out.height), (16, 5, 4));
    }
}
