//! Wrapper of `shaders/head1x1_grad.wgsl`: the head's input, weight and bias gradients.

use super::{Access, Kernel, grid_2d, numbered};

/// `shaders/head1x1_grad.wgsl`: the head's backward, entries `grad_input`, `partial`, `reduce`.
pub const SOURCE: &str = include_str!("../../shaders/head1x1_grad.wgsl");

/// Mirrors `HeadGradParams`: `count` pixels (batch stacked), `c4` vec4 groups, `chunk` pixels per
/// partial sum.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct HeadGradParams {
    /// Pixels of the batch (images stacked as rows).
    pub count: u32,
    /// Channel groups of 4 of the head's input.
    pub c4: u32,
    /// Pixels per partial sum of the weight and bias gradients.
    pub chunk: u32,
    /// Padding to the WGSL struct's 16-byte size.
    pub _pad: u32,
}

impl HeadGradParams {
    /// Number of chunks, ceil(count / chunk).
    pub fn chunks(&self) -> u32 {
        self.count.div_ceil(self.chunk)
    }
}

/// The head's backward: `grad_input` (the gradient into the last conv's output), then `partial`
/// and `reduce` (its weight and bias gradients). Bindings x, g, weight (read), dx, partial,
/// grad_w, grad_b (read-write), params (uniform).
pub struct Head1x1Grad;

impl Kernel for Head1x1Grad {
    type Config = ();
    type Params = HeadGradParams;
    const NAME: &'static str = "head1x1_grad";
    const ENTRIES: &'static [&'static str] = &["grad_input", "partial", "reduce"];

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[
            Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, Uniform,
        ])
    }

    fn grid((): (), p: &HeadGradParams) -> Vec<[u32; 3]> {
        let [ix, iy] = grid_2d(p.count);
        let [px, py] = grid_2d(p.chunks() * (p.c4 + 1));
        let [rx, ry] = grid_2d(p.c4 + 1);
        vec![[ix, iy, 1], [px, py, 1], [rx, ry, 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
