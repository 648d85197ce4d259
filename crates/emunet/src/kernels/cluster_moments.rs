//! Wrapper of `shaders/cluster_moments.wgsl`: exact per-cluster sums of a labelling (the GPU form
//! of `clusters::moments`).

use super::{Access, Kernel, grid_2d, numbered};

/// `shaders/cluster_moments.wgsl`: exact per-cluster sums (area, moments, weight sums, bounding
/// box, peak) with integer atomics; entries `accumulate` and `peaks`.
pub const SOURCE: &str = include_str!("../../shaders/cluster_moments.wgsl");

/// u32 words per table row (`STRIDE`; tests/host/layouts.rs checks the shader's).
pub const STRIDE: usize = 26;

/// Where each pixel's weight comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightSource {
    /// Every weight 1.
    Ones,
    /// `weights` holds an f32 per pixel, v.
    Values,
    /// `weights` is the raw frame (`bits` 8 or 16, packed), v = the pixel value.
    Frame {
        /// Bits per pixel of the packed frame: 8 or 16.
        bits: u32,
    },
}

/// Mirrors `MomentsParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MomentsParams {
    /// Frame width in pixels.
    pub w: u32,
    /// Frame height in pixels.
    pub h: u32,
    /// Rows in `table`: pixels of clusters with a larger label are skipped.
    pub capacity: u32,
    /// label_components' block count.
    pub nblocks: u32,
    /// Where the weight comes from: 0 every weight 1, 1 an f32 per pixel, 2 the raw frame.
    pub source: u32,
    /// Bits per pixel of the raw frame (8 or 16) when `source` is 2; unused otherwise.
    pub bits: u32,
    /// Index in the `offset` buffer of the weight's offset (the threshold, the median, …).
    pub offset_index: u32,
    /// w = max(0, v − offset) when 1, max(0, offset − v) when 0.
    pub above: u32,
}

impl MomentsParams {
    /// Weights `max(0, v − offset)` (`above`) or `max(0, offset − v)` with the offset read from
    /// `offset[offset_index]` on the GPU.
    pub fn new(
        w: u32,
        h: u32,
        capacity: u32,
        source: WeightSource,
        offset_index: u32,
        above: bool,
    ) -> Self {
        let (source, bits) = match source {
            WeightSource::Ones => (0, 0),
            WeightSource::Values => (1, 0),
            WeightSource::Frame { bits } => (2, bits),
        };
        MomentsParams {
            w,
            h,
            capacity,
            nblocks: (w * h).div_ceil(super::label_components::BLOCK),
            source,
            bits,
            offset_index,
            above: above as u32,
        }
    }
}

/// Per-cluster sums of a labelling: `accumulate` adds each run of on pixels to its cluster's
/// table row, then `peaks` finds the first pixel holding each row's peak weight. Bindings list,
/// labels, weights, offset, blocks (read), table (read-write), params (uniform).
pub struct ClusterMoments;

impl Kernel for ClusterMoments {
    type Config = ();
    type Params = MomentsParams;
    const NAME: &'static str = "cluster_moments";
    const ENTRIES: &'static [&'static str] = &["accumulate", "peaks"];

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, Read, Read, Read, Read, ReadWrite, Uniform])
    }

    fn grid((): (), p: &MomentsParams) -> Vec<[u32; 3]> {
        // One workgroup of 64 per block of pixels.
        let [x, y] = grid_2d((p.w * p.h).div_ceil(super::label_components::BLOCK) * 64);
        vec![[x, y, 1]; 2]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
