//! Wrapper of `shaders/threshold.wgsl`: r > t (or r ≥ t) inside a border → mask bytes (0/255).

use super::{Access, Kernel, grid_2d, numbered};

/// `shaders/threshold.wgsl`: a float map cut into a packed 0/255 mask, inside a border.
pub const SOURCE: &str = include_str!("../../shaders/threshold.wgsl");

/// Mirrors `ThresholdParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ThresholdParams {
    /// Map width in pixels.
    pub w: u32,
    /// Map height in pixels.
    pub h: u32,
    /// The `border` outermost rows and columns on every side stay off.
    pub border: u32,
    /// The threshold: on when r > t (r ≥ t with `inclusive`).
    pub t: f32,
    /// 1: on when r ≥ t (the network's rule); 0: r > t (the classical one).
    pub inclusive: u32,
    /// Padding to the WGSL struct's size (a multiple of 16 bytes).
    pub _pad: [u32; 3],
}

/// Float map to packed 0/255 mask, one invocation per word of 4 pixels: bindings the map
/// (read), the mask (read-write), params (uniform).
pub struct Threshold;

impl Kernel for Threshold {
    type Config = ();
    type Params = ThresholdParams;
    const NAME: &'static str = "threshold";

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, ReadWrite, Uniform])
    }

    fn grid((): (), p: &ThresholdParams) -> Vec<[u32; 3]> {
        let [x, y] = grid_2d((p.w * p.h).div_ceil(4));
        vec![[x, y, 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
