//! Wrapper of `shaders/conv3x3_grad_weight.wgsl`: conv3x3's weight and bias gradients (ReLU mask
//! fused), as per-chunk partial sums and a fixed-order reduction.

use super::{Access, Kernel, grid_2d, numbered};

/// `shaders/conv3x3_grad_weight.wgsl`: weight and bias gradients, entries `partial` and `reduce`.
pub const SOURCE: &str = include_str!("../../shaders/conv3x3_grad_weight.wgsl");

/// Mirrors `GradWeightParams`: the forward conv's shape and `rows` rows per chunk.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GradWeightParams {
    /// Batch size (images).
    pub n: u32,
    /// Height in pixels of the forward conv's input and output.
    pub h: u32,
    /// Width in pixels of the forward conv's input and output.
    pub w: u32,
    /// Channel groups of 4 of the forward conv's first input `x_a`.
    pub ca4: u32,
    /// Channel groups of 4 of its second input `x_b`; 0 for one input.
    pub cb4: u32,
    /// Channel groups of 4 of its output.
    pub co4: u32,
    /// 1: the forward conv applied ReLU, so dy counts only where y > 0.
    pub relu: u32,
    /// Image rows per chunk of the partial sums.
    pub rows: u32,
}

impl GradWeightParams {
    /// Number of chunks (partial sums per weight element).
    pub fn chunks(&self) -> u32 {
        self.n * self.h.div_ceil(self.rows)
    }
    /// Rows per chunk giving about `target` partial-sum invocations (enough parallel work).
    pub fn rows_for(n: u32, h: u32, pairs: u32, target: u32) -> u32 {
        let per_image = target.div_ceil(n * pairs).clamp(1, h);
        h.div_ceil(per_image)
    }
    /// vec4s of partial_w and partial_b.
    pub fn partial_len(&self) -> (u64, u64) {
        let c = self.chunks() as u64;
        (
            c * (self.co4 * (self.ca4 + self.cb4) * 36) as u64,
            c * self.co4 as u64,
        )
    }
}

/// conv3x3's weight and bias gradients: `partial` sums per chunk of rows, `reduce` adds the
/// chunks. Bindings x_a, x_b, dy, y (read), partial_w, partial_b, grad_w, grad_b (read-write),
/// params (uniform).
pub struct Conv3x3GradWeight;

impl Kernel for Conv3x3GradWeight {
    type Config = ();
    type Params = GradWeightParams;
    const NAME: &'static str = "conv3x3_grad_weight";
    const ENTRIES: &'static [&'static str] = &["partial", "reduce"];

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[
            Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, Uniform,
        ])
    }

    fn grid((): (), p: &GradWeightParams) -> Vec<[u32; 3]> {
        let cin4 = p.ca4 + p.cb4;
        let [px, py] = grid_2d(p.chunks() * p.co4 * cin4);
        let [rx, ry] = grid_2d(p.co4 * cin4 * 36 + p.co4);
        vec![[px, py, 1], [rx, ry, 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
