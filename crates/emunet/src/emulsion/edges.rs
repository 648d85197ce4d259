//! Dark lines along a frame's edges: a dead row or column, a crop edge, a shutter's shadow. The
//! network has never seen one; a dark line looks to it like a chain of grains, and it masks it
//! nearly whole. [`dark_edges`] finds them (up to [`MAX_LINES`] from each edge, each much darker
//! than the frame just inside), the engine runs the network on the frame with them replaced by
//! the nearest good line ([`DarkEdges::repair`]) and clears them from the result
//! ([`DarkEdges::clear`]): they carry no image, so no cluster lies on them.

use crate::frame::Frame;

/// The most lines from one edge that can be dark.
pub const MAX_LINES: usize = 4;

/// Lines just inside the dark ones that the reference level and noise come from.
const REFERENCE_LINES: usize = 8;

/// Dark lines counted from each edge of a frame (rows from the top and bottom, columns from the
/// left and right).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DarkEdges {
    /// Dark rows from the top.
    pub top: usize,
    /// Dark rows from the bottom.
    pub bottom: usize,
    /// Dark columns from the left.
    pub left: usize,
    /// Dark columns from the right.
    pub right: usize,
}

/// One side of the frame: its lines from the edge inwards.
#[derive(Clone, Copy)]
enum Side {
    Top,
    Bottom,
    Left,
    Right,
}

impl Side {
    const ALL: [Side; 4] = [Side::Top, Side::Bottom, Side::Left, Side::Right];

    /// Lines on this side and their length.
    fn extent(self, w: usize, h: usize) -> (usize, usize) {
        match self {
            Side::Top | Side::Bottom => (h, w),
            Side::Left | Side::Right => (w, h),
        }
    }

    /// The pixel index of position `i` along line `k` (0: the edge).
    fn index(self, w: usize, h: usize, k: usize, i: usize) -> usize {
        match self {
            Side::Top => k * w + i,
            Side::Bottom => (h - 1 - k) * w + i,
            Side::Left => i * w + k,
            Side::Right => i * w + (w - 1 - k),
        }
    }
}

impl DarkEdges {
    /// Whether no line is dark.
    pub fn is_empty(&self) -> bool {
        *self == DarkEdges::default()
    }

    /// Every side's count raised to at least `lines` (a border cut).
    pub fn at_least(self, lines: usize) -> DarkEdges {
        DarkEdges {
            top: self.top.max(lines),
            bottom: self.bottom.max(lines),
            left: self.left.max(lines),
            right: self.right.max(lines),
        }
    }

    fn count(&self, side: Side) -> usize {
        match side {
            Side::Top => self.top,
            Side::Bottom => self.bottom,
            Side::Left => self.left,
            Side::Right => self.right,
        }
    }

    /// `frame` with every dark line replaced by the first good line inside it.
    pub fn repair(&self, frame: &Frame) -> Frame {
        let (w, h) = (frame.width, frame.height);
        let mut values: Vec<u32> = (0..frame.len()).map(|i| frame.value(i)).collect();
        for side in Side::ALL {
            let n = self.count(side);
            let (_, len) = side.extent(w, h);
            for k in 0..n {
                for i in 0..len {
                    values[side.index(w, h, k, i)] = values[side.index(w, h, n, i)];
                }
            }
        }
        let rebuilt = match frame.bits() {
            8 => Frame::from_u8(w, h, values.iter().map(|&v| v as u8).collect()),
            _ => Frame::from_u16(w, h, values.iter().map(|&v| v as u16).collect()),
        };
        rebuilt.expect("the frame's own size")
    }

    /// Sets the probabilities and the mask (`w × h`, row-major) to 0 on every counted line.
    pub fn clear(&self, prob: &mut [f32], mask: &mut [u8], w: usize, h: usize) {
        for side in Side::ALL {
            let (lines, len) = side.extent(w, h);
            for k in 0..self.count(side).min(lines) {
                for i in 0..len {
                    let at = side.index(w, h, k, i);
                    prob[at] = 0.0;
                    mask[at] = 0;
                }
            }
        }
    }
}

/// The dark lines along `frame`'s edges. A line is dark when its median lies below the median of
/// the 8 lines inside the outermost [`MAX_LINES`] by more than
/// max(8 σ, a tenth of that level), σ being the reference lines' robust spread (1.4826 × their
/// median absolute deviation: noise, grains and the column pattern together); lines are counted
/// from the edge while they are dark. Grains, vignetting and dust move a whole line's median by
/// far less; bright lines do not look like grains and are left alone. Frames narrower than 12
/// lines on a side have none on it.
pub fn dark_edges(frame: &Frame) -> DarkEdges {
    let (w, h) = (frame.width, frame.height);
    let mut found = [0usize; 4];
    for (slot, side) in found.iter_mut().zip(Side::ALL) {
        let (lines, len) = side.extent(w, h);
        if lines < MAX_LINES + REFERENCE_LINES || len == 0 {
            continue;
        }
        let line = |k: usize| -> Vec<u32> {
            (0..len)
                .map(|i| frame.value(side.index(w, h, k, i)))
                .collect()
        };
        let mut reference: Vec<u32> = (MAX_LINES..MAX_LINES + REFERENCE_LINES)
            .flat_map(line)
            .collect();
        let level = median(&mut reference) as f64;
        let mut deviations: Vec<u32> = reference
            .iter()
            .map(|&v| (v as f64 - level).abs() as u32)
            .collect();
        let sigma = 1.4826 * median(&mut deviations) as f64;
        let margin = (8.0 * sigma).max(0.1 * level);
        *slot = (0..MAX_LINES)
            .take_while(|&k| (median(&mut line(k)) as f64) < level - margin)
            .count();
    }
    let [top, bottom, left, right] = found;
    DarkEdges {
        top,
        bottom,
        left,
        right,
    }
}

/// The lower median of `values` (reordered).
fn median(values: &mut [u32]) -> u32 {
    let rank = (values.len() - 1) / 2;
    *values.select_nth_unstable(rank).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// A frame of background 190 with noise σ ≈ 3, a column pattern and dark grains (2 % of
    /// pixels, some on the edge lines).
    fn emulsion(seed: u64, w: usize, h: usize) -> Vec<u8> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let columns: Vec<f64> = (0..w).map(|_| rng.random_range(-3.0..3.0)).collect();
        (0..w * h)
            .map(|i| {
                let grain = if rng.random_range(0.0..1.0) < 0.02 {
                    70.0
                } else {
                    0.0
                };
                let v = 190.0 + columns[i % w] + rng.random_range(-5.0..5.0) - grain;
                v.clamp(0.0, 255.0) as u8
            })
            .collect()
    }

    #[test]
    fn clean_frames_have_no_dark_edges() {
        for seed in 0..30 {
            let (w, h) = (40 + seed as usize, 30 + 2 * seed as usize);
            let frame = Frame::from_u8(w, h, emulsion(seed, w, h)).unwrap();
            assert!(dark_edges(&frame).is_empty(), "seed {seed}");
        }
    }

    #[test]
    fn dark_lines_are_found_repaired_and_cleared() {
        let (w, h) = (50, 40);
        let mut data = emulsion(7, w, h);
        data[..w].fill(0); // a dead first row
        for y in 0..h {
            data[y * w + w - 1] = 130; // two last columns 60 levels down
            data[y * w + w - 2] = 130;
        }
        for x in 0..w {
            data[(h - 1) * w + x] = 255; // a bright last row: left alone
        }
        let frame = Frame::from_u8(w, h, data.clone()).unwrap();
        let dark = dark_edges(&frame);
        assert_eq!(
            dark,
            DarkEdges {
                top: 1,
                bottom: 0,
                left: 0,
                right: 2
            }
        );
        let fixed = dark.repair(&frame);
        for x in 0..w - 2 {
            assert_eq!(fixed.value(x), data[w + x] as u32, "row 0 from row 1");
        }
        for y in 1..h {
            let inner = data[y * w + w - 3] as u32;
            assert_eq!(
                fixed.value(y * w + w - 1),
                inner,
                "columns from the third last"
            );
            assert_eq!(fixed.value(y * w + w - 2), inner);
        }
        assert_eq!(fixed.value((h - 1) * w + 5), 255, "bright row kept");
        let (mut prob, mut mask) = (vec![0.9f32; w * h], vec![255u8; w * h]);
        dark.clear(&mut prob, &mut mask, w, h);
        let cleared = mask.iter().filter(|&&m| m == 0).count();
        assert_eq!(cleared, w + 2 * h - 2);
        assert_eq!(prob.iter().filter(|&&p| p == 0.0).count(), cleared);
        assert_eq!(mask[w + 5], 255);
    }

    #[test]
    fn small_frames_and_16_bit_frames() {
        let frame = Frame::from_u8(11, 11, vec![0; 121]).unwrap();
        assert!(dark_edges(&frame).is_empty(), "under 12 lines a side");
        let (w, h) = (30, 24);
        let mut deep: Vec<u16> = emulsion(3, w, h).iter().map(|&v| v as u16 * 257).collect();
        deep[..w].fill(1000);
        let frame = Frame::from_u16(w, h, deep).unwrap();
        let dark = dark_edges(&frame);
        assert_eq!((dark.top, dark.bottom, dark.left, dark.right), (1, 0, 0, 0));
        assert_eq!(dark.repair(&frame).bits(), 16);
    }
}
