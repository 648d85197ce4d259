//! Wrapper of `shaders/frame_stats.wgsl`: histogram of the raw frame, then mean and std of the
//! normalised pixel values, all on the GPU.

use super::{Access, Kernel, numbered};

/// `shaders/frame_stats.wgsl`: the raw frame's histogram, then its mean, std and median.
pub const SOURCE: &str = include_str!("../../shaders/frame_stats.wgsl");

/// Mirrors `FrameStatsParams`: pixel count, bits per pixel (8 or 16), packed u32 words.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FrameStatsParams {
    /// Pixels in the frame.
    pub count: u32,
    /// Bits per pixel, 8 or 16 (the histogram has 2^bits bins).
    pub bits: u32,
    /// Packed u32 words of the frame (one `histogram` invocation each).
    pub words: u32,
    /// Padding to the WGSL struct's 16-byte size.
    pub _pad: u32,
}

/// Histogram, mean, std and median of the raw frame: `histogram` (one invocation per packed
/// word), then `reduce` (one workgroup). Bindings raw (read), hist, stats (read-write), params
/// (uniform).
pub struct FrameStats;

impl Kernel for FrameStats {
    type Config = ();
    type Params = FrameStatsParams;
    const NAME: &'static str = "frame_stats";
    const ENTRIES: &'static [&'static str] = &["histogram", "reduce"];

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, ReadWrite, ReadWrite, Uniform])
    }

    fn grid((): (), p: &FrameStatsParams) -> Vec<[u32; 3]> {
        let groups = p.words.div_ceil(64);
        let x = groups.min(32768);
        let y = groups.div_ceil(x);
        vec![[x, y, 1], [1, 1, 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
