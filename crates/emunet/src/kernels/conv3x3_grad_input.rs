//! Wrapper of `shaders/conv3x3_grad_input.wgsl`: conv3x3's input gradient(s), ReLU mask fused.

use super::conv3x3::{Conv3x3Params, OB, PX, module_source};
use super::{Access, Kernel, Variant, WeightsIn, div_ceil, grid_2d, numbered};

/// `shaders/conv3x3_grad_input.wgsl`: the body of the input gradient(s), ReLU mask fused.
pub const SOURCE: &str = include_str!("../../shaders/conv3x3_grad_input.wgsl");

/// conv3x3's input gradient(s), ReLU mask fused, in a variant (storage-buffer weights): bindings
/// dy, y, weight (read), dx_a, dx_b (read-write), params (uniform).
pub struct Conv3x3GradInput;

impl Kernel for Conv3x3GradInput {
    type Config = Variant;
    type Params = Conv3x3Params;
    const NAME: &'static str = "conv3x3_grad_input";

    fn source(variant: Variant) -> String {
        module_source(SOURCE, WeightsIn::Storage, variant)
    }

    fn bindings(_: Variant) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, Read, Read, ReadWrite, ReadWrite, Uniform])
    }

    fn grid(_: Variant, p: &Conv3x3Params) -> Vec<[u32; 3]> {
        let [x, y] = grid_2d(div_ceil(p.w, PX) * p.h);
        vec![[x, y, p.n * div_ceil(p.ca4 + p.cb4, OB)]]
    }

    fn configs() -> Vec<Variant> {
        Variant::ALL.to_vec()
    }
}
