//! Wrapper of `shaders/label_components.wgsl`: connected components of a mask numbered in raster
//! order (the GPU form of `clusters::label`).

use super::{Access, Kernel, grid_2d, numbered};

/// `shaders/label_components.wgsl`: compaction, union-find and raster-order numbering passes.
pub const SOURCE: &str = include_str!("../../shaders/label_components.wgsl");

/// Pixels per block of the root count (`BLOCK`; tests/host/layouts.rs checks the shader's).
pub const BLOCK: u32 = 2048;

/// Mirrors `LabelParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LabelParams {
    /// Mask width in pixels.
    pub w: u32,
    /// Mask height in pixels.
    pub h: u32,
    /// 1: 8-connectivity, 0: 4-connectivity.
    pub eight: u32,
    /// Blocks of `BLOCK` pixels: ceil(w · h / BLOCK).
    pub nblocks: u32,
}

impl LabelParams {
    /// Parameters for a `w × h` mask, 8- or 4-connected, with the block count filled in.
    pub fn new(w: u32, h: u32, eight: bool) -> Self {
        LabelParams {
            w,
            h,
            eight: eight as u32,
            nblocks: (w * h).div_ceil(BLOCK),
        }
    }
}

/// Connected components of a mask, numbered in raster order: nine dispatches (the entry points
/// of [`Kernel::ENTRIES`]; the scan runs twice, on pixels then roots). Bindings mask (read),
/// parent, blocks, list, labels (read-write), params (uniform).
pub struct LabelComponents;

impl Kernel for LabelComponents {
    type Config = ();
    type Params = LabelParams;
    const NAME: &'static str = "label_components";
    const ENTRIES: &'static [&'static str] = &[
        "count_on", "scan", "compact", "init", "merge", "flatten", "scan", "number", "relabel",
    ];

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, Uniform])
    }

    fn grid((): (), p: &LabelParams) -> Vec<[u32; 3]> {
        // One workgroup of 64 per block, in every pass but the scan.
        let [x, y] = grid_2d(p.nblocks * 64);
        Self::ENTRIES
            .iter()
            .map(|&entry| {
                if entry == "scan" {
                    [1, 1, 1]
                } else {
                    [x, y, 1]
                }
            })
            .collect()
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
