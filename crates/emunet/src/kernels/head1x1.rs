//! Wrapper of `shaders/head1x1.wgsl`: 1×1 conv C → 1 + bias + sigmoid, writing a tile's core
//! into the frame-sized probability map.

use super::{Access, Kernel, div_ceil, numbered};

/// `shaders/head1x1.wgsl`: the U-Net head, 1×1 conv C → 1, bias and sigmoid, cropped to the frame.
pub const SOURCE: &str = include_str!("../../shaders/head1x1.wgsl");

/// Mirrors `Head1x1Params`. The tile is `th × tw` with `c4` vec4 channel groups; its core
/// `[cy0, cy1) × [cx0, cx1)` (tile coordinates) goes to frame position `(oy, ox) + (ty, tx)`,
/// clipped to `out_h × out_w`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Head1x1Params {
    /// Tile height in pixels.
    pub th: u32,
    /// Tile width in pixels (the row length of `x`).
    pub tw: u32,
    /// Channel groups of 4 of the input (channels padded to a multiple of 4).
    pub c4: u32,
    /// 1: write the logit instead of the probability (training).
    pub logits: u32,
    /// First core row, in tile coordinates.
    pub cy0: u32,
    /// End of the core rows (exclusive).
    pub cy1: u32,
    /// First core column, in tile coordinates.
    pub cx0: u32,
    /// End of the core columns (exclusive).
    pub cx1: u32,
    /// Frame row of the tile's row 0.
    pub oy: u32,
    /// Frame column of the tile's column 0.
    pub ox: u32,
    /// Frame height in pixels; rows past it are cropped.
    pub out_h: u32,
    /// Frame width in pixels: the output's row length; columns past it are cropped.
    pub out_w: u32,
}

impl Head1x1Params {
    /// Floating-point operations over the core: per pixel, 2 per real channel `c` plus 4.
    pub fn flops(&self, c: usize) -> u64 {
        ((self.cy1 - self.cy0) * (self.cx1 - self.cx0)) as u64 * (2 * c as u64 + 4)
    }
    /// Minimal bytes over the core: each input vec4 read once, one f32 written per pixel.
    pub fn bytes(&self) -> u64 {
        ((self.cy1 - self.cy0) * (self.cx1 - self.cx0)) as u64 * (16 * self.c4 as u64 + 4)
    }
}

/// The 1×1 head with sigmoid, cropped into the frame-sized map, 8×8 pixels a workgroup: bindings
/// x, weight, bias (read), the map (read-write), params (uniform).
pub struct Head1x1;

impl Kernel for Head1x1 {
    type Config = ();
    type Params = Head1x1Params;
    const NAME: &'static str = "head1x1";

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, Read, Read, ReadWrite, Uniform])
    }

    fn grid((): (), p: &Head1x1Params) -> Vec<[u32; 3]> {
        vec![[div_ceil(p.cx1 - p.cx0, 8), div_ceil(p.cy1 - p.cy0, 8), 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
