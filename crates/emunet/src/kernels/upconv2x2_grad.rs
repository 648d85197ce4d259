//! Wrappers of `shaders/upconv2x2_grad_input.wgsl` and `shaders/upconv2x2_grad_weight.wgsl`: the
//! up-convolution's input, weight and bias gradients.

use super::upconv2x2::{OB, PX, Upconv2x2Params, module_source};
use super::{Access, Kernel, Variant, WeightsIn, div_ceil, grid_2d, numbered};

/// `shaders/upconv2x2_grad_input.wgsl`: the input gradient's body (built with `module_source`).
pub const SOURCE_INPUT: &str = include_str!("../../shaders/upconv2x2_grad_input.wgsl");
/// `shaders/upconv2x2_grad_weight.wgsl`: weight and bias gradients, `partial` and `reduce`.
pub const SOURCE_WEIGHT: &str = include_str!("../../shaders/upconv2x2_grad_weight.wgsl");

/// The up-conv's input gradient in a variant (storage-buffer weights): bindings dy, weight
/// (read), dx (read-write), params (uniform).
pub struct Upconv2x2GradInput;

impl Kernel for Upconv2x2GradInput {
    type Config = Variant;
    type Params = Upconv2x2Params;
    const NAME: &'static str = "upconv2x2_grad_input";

    fn source(variant: Variant) -> String {
        module_source(SOURCE_INPUT, WeightsIn::Storage, variant)
    }

    fn bindings(_: Variant) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, Read, ReadWrite, Uniform])
    }

    fn grid(_: Variant, p: &Upconv2x2Params) -> Vec<[u32; 3]> {
        let [x, y] = grid_2d(div_ceil(p.w, PX) * p.h);
        vec![[x, y, p.n * div_ceil(p.ci4, OB)]]
    }

    fn configs() -> Vec<Variant> {
        Variant::ALL.to_vec()
    }
}

/// Mirrors `UpGradWeightParams`: the forward op's input shape and `rows` input rows per chunk.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct UpGradWeightParams {
    /// Batch size (images).
    pub n: u32,
    /// Height in pixels of the forward op's input.
    pub h: u32,
    /// Width in pixels of the forward op's input.
    pub w: u32,
    /// Channel groups of 4 of the forward op's input.
    pub ci4: u32,
    /// Channel groups of 4 of the forward op's output.
    pub co4: u32,
    /// Input rows per chunk of the partial sums.
    pub rows: u32,
    /// Padding to the WGSL struct's size (a multiple of 16 bytes).
    pub _pad: [u32; 2],
}

impl UpGradWeightParams {
    /// Number of chunks (partial sums per gradient vec4): n · ceil(h / rows).
    pub fn chunks(&self) -> u32 {
        self.n * self.h.div_ceil(self.rows)
    }
    /// vec4s of partial_w and partial_b.
    pub fn partial_len(&self) -> (u64, u64) {
        let c = self.chunks() as u64;
        (c * (self.co4 * self.ci4 * 16) as u64, c * self.co4 as u64)
    }
}

/// The up-conv's weight and bias gradients: `partial` sums per chunk of pixels, `reduce` adds
/// the chunks. Bindings x, dy (read), partial sums and the gradients (read-write), params
/// (uniform).
pub struct Upconv2x2GradWeight;

impl Kernel for Upconv2x2GradWeight {
    type Config = ();
    type Params = UpGradWeightParams;
    const NAME: &'static str = "upconv2x2_grad_weight";
    const ENTRIES: &'static [&'static str] = &["partial", "reduce"];

    fn source((): ()) -> String {
        SOURCE_WEIGHT.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[
            Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, Uniform,
        ])
    }

    fn grid((): (), p: &UpGradWeightParams) -> Vec<[u32; 3]> {
        let [px, py] = grid_2d(p.chunks() * p.co4 * p.ci4);
        let [rx, ry] = grid_2d(p.co4 * p.ci4 * 16 + p.co4);
        vec![[px, py, 1], [rx, ry, 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
