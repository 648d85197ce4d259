//! Wrapper of `shaders/maxpool2x2_grad.wgsl`: max-pooling's backward (to the first maximum).

use super::maxpool2x2::{Maxpool2x2, Maxpool2x2Params};

/// Mirrors `Maxpool2x2GradParams`: the forward pooling's shape and whether to add to dx.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Maxpool2x2GradParams {
    /// Batch size (images).
    pub n: u32,
    /// Height in pixels of the forward pooling's input (even).
    pub h: u32,
    /// Width in pixels of the forward pooling's input (even).
    pub w: u32,
    /// Channel groups of 4 (channels padded to a multiple of 4).
    pub c4: u32,
    /// 1: add the routed gradient to what dx holds; 0: overwrite dx.
    pub accumulate: u32,
    /// Padding to the WGSL struct's size (a multiple of 16 bytes).
    pub _pad: [u32; 3],
}
use super::{Access, Kernel, Storage, numbered};

/// `shaders/maxpool2x2_grad.wgsl`: routes each output gradient to its window's first maximum.
pub const SOURCE: &str = include_str!("../../shaders/maxpool2x2_grad.wgsl");

/// The max-pool's input gradient, one invocation per output vec4 as in the forward: bindings x,
/// dy (read), dx (read-write), params (uniform).
pub struct Maxpool2x2Grad;

impl Kernel for Maxpool2x2Grad {
    type Config = ();
    type Params = Maxpool2x2GradParams;
    const NAME: &'static str = "maxpool2x2_grad";

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, Read, ReadWrite, Uniform])
    }

    fn grid((): (), p: &Maxpool2x2GradParams) -> Vec<[u32; 3]> {
        let forward = Maxpool2x2Params {
            n: p.n,
            h: p.h,
            w: p.w,
            c4: p.c4,
        };
        Maxpool2x2::grid(Storage::Buffers, &forward)
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
