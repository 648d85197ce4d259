//! Wrapper of `shaders/loss.wgsl`: BCE on logits (positive weight) + optional soft Jaccard, its
//! value (fixed-order reduction) and its gradient.

use super::{Access, Kernel, grid_2d, numbered};

/// `shaders/loss.wgsl`: BCE with a positive weight + soft Jaccard: `partial`, `finish`, `grad`.
pub const SOURCE: &str = include_str!("../../shaders/loss.wgsl");

/// Mirrors `LossParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LossParams {
    /// Pixels (logits) in the batch.
    pub count: u32,
    /// Pixels per partial sum.
    pub chunk: u32,
    /// BCE weight of the positive class.
    pub pos_weight: f32,
    /// Weight λ of the soft-Jaccard term (0: BCE only).
    pub jaccard_weight: f32,
}

impl LossParams {
    /// Number of chunks, ceil(count / chunk).
    pub fn chunks(&self) -> u32 {
        self.count.div_ceil(self.chunk)
    }
}

/// The loss and its gradient: `partial` sums per chunk, `finish` adds the chunks (one
/// workgroup), `grad` writes the gradient. Bindings z, t (read), chunk sums, sums, dz
/// (read-write), params (uniform).
pub struct Loss;

impl Kernel for Loss {
    type Config = ();
    type Params = LossParams;
    const NAME: &'static str = "loss";
    const ENTRIES: &'static [&'static str] = &["partial", "finish", "grad"];

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, Read, ReadWrite, ReadWrite, ReadWrite, Uniform])
    }

    fn grid((): (), p: &LossParams) -> Vec<[u32; 3]> {
        let [px, py] = grid_2d(p.chunks());
        let [gx, gy] = grid_2d(p.count);
        vec![[px, py, 1], [1, 1, 1], [gx, gy, 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
