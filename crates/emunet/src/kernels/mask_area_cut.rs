//! Wrapper of `shaders/mask_area_cut.wgsl`: clears the mask pixels of clusters outside an area
//! range (the classical pipeline's area cut, after `label_components` and `cluster_moments`).

use super::{Access, Kernel, grid_2d, numbered};

/// `shaders/mask_area_cut.wgsl`: clears the mask pixels of clusters outside the area range.
pub const SOURCE: &str = include_str!("../../shaders/mask_area_cut.wgsl");

/// Mirrors `AreaCutParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AreaCutParams {
    /// Mask width in pixels.
    pub w: u32,
    /// Mask height in pixels.
    pub h: u32,
    /// Smallest area kept, in pixels (inclusive).
    pub min_area: u32,
    /// Largest area kept, in pixels (inclusive).
    pub max_area: u32,
}

/// Clears the mask pixels of clusters outside an area range, one invocation per word of 4
/// pixels: bindings labels and the cluster table (read), the mask (read-write), params (uniform).
pub struct MaskAreaCut;

impl Kernel for MaskAreaCut {
    type Config = ();
    type Params = AreaCutParams;
    const NAME: &'static str = "mask_area_cut";

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, Read, ReadWrite, Uniform])
    }

    fn grid((): (), p: &AreaCutParams) -> Vec<[u32; 3]> {
        let [x, y] = grid_2d((p.w * p.h).div_ceil(4));
        vec![[x, y, 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
