//! Wrapper of `shaders/normalize.wgsl`: normalisation of the raw frame (z-score or median-relative,
//! [`crate::model::Normalization`]) into a tile of the reflect-padded network input.

use super::{Access, Kernel, div_ceil, numbered};

/// `shaders/normalize.wgsl`: normalisation, reflect padding and tiling of the raw frame.
pub const SOURCE: &str = include_str!("../../shaders/normalize.wgsl");
/// Reading and normalising one frame pixel, prepended to normalize.wgsl, conv3x3_frame.wgsl and
/// fir_filter.wgsl.
pub const SOURCE_FRAME_PIXEL: &str = include_str!("../../shaders/frame_pixel.wgsl");

/// Mirrors `NormalizeParams`: frame `h × w` with `bits` per pixel; the tile `th × tw` starts at
/// padded-frame position `(oy, ox)`; `mode` is [`NormalizeParams::mode_of`] the rule.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct NormalizeParams {
    /// Frame height in pixels (rows past it reflect).
    pub h: u32,
    /// Frame width in pixels (columns past it reflect).
    pub w: u32,
    /// Bits per raw pixel (8 or 16).
    pub bits: u32,
    /// 0: z-score, 1: median-relative ([`NormalizeParams::mode_of`]).
    pub mode: u32,
    /// Padded-frame row of the tile's row 0.
    pub oy: u32,
    /// Padded-frame column of the tile's column 0.
    pub ox: u32,
    /// Tile height in pixels.
    pub th: u32,
    /// Tile width in pixels.
    pub tw: u32,
}

impl NormalizeParams {
    /// The shader's `mode` for a rule.
    pub fn mode_of(rule: crate::model::Normalization) -> u32 {
        match rule {
            crate::model::Normalization::Zscore => 0,
            crate::model::Normalization::Median => 1,
        }
    }
}

/// Frame normalisation into a reflect-padded input tile, 8×8 pixels a workgroup: bindings raw,
/// stats (read), x (read-write), params (uniform).
pub struct Normalize;

impl Kernel for Normalize {
    type Config = ();
    type Params = NormalizeParams;
    const NAME: &'static str = "normalize";

    fn source((): ()) -> String {
        format!("{SOURCE_FRAME_PIXEL}\n{SOURCE}")
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, Read, ReadWrite, Uniform])
    }

    fn grid((): (), p: &NormalizeParams) -> Vec<[u32; 3]> {
        vec![[div_ceil(p.tw, 8), div_ceil(p.th, 8), 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
