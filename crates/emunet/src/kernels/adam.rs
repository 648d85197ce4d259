//! Wrapper of `shaders/adam.wgsl`: one bias-corrected AdamW step over a parameter buffer.

use super::{Access, Kernel, grid_2d, numbered};

/// `shaders/adam.wgsl`: one bias-corrected AdamW step, element-wise over a parameter buffer.
pub const SOURCE: &str = include_str!("../../shaders/adam.wgsl");

/// Mirrors `AdamParams`; `c1 = 1 − β1^step`, `c2 = 1 − β2^step`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamParams {
    /// Elements in the parameter buffer (one invocation each).
    pub count: u32,
    /// Unused; matches the WGSL struct's `_pad`.
    pub _pad: u32,
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first-moment average `m` (β1).
    pub beta1: f32,
    /// Decay of the second-moment average `v` (β2).
    pub beta2: f32,
    /// Added to √(v / c2) in the denominator (ε).
    pub eps: f32,
    /// Decoupled weight decay: each step also subtracts `lr · weight_decay · w`.
    pub weight_decay: f32,
    /// First-moment bias correction, `1 − β1^step`.
    pub c1: f32,
    /// Second-moment bias correction, `1 − β2^step`.
    pub c2: f32,
    /// Padding to the WGSL struct's size (a multiple of 16 bytes).
    pub _pad1: [f32; 3],
}

impl AdamParams {
    /// The parameters of step `step` (from 1) with the reference's settings.
    pub fn at_step(count: u32, step: u32, s: crate::reference::AdamParams) -> Self {
        AdamParams {
            count,
            lr: s.lr,
            beta1: s.beta1,
            beta2: s.beta2,
            eps: s.eps,
            weight_decay: s.weight_decay,
            c1: (1.0 - (s.beta1 as f64).powi(step as i32)) as f32,
            c2: (1.0 - (s.beta2 as f64).powi(step as i32)) as f32,
            ..Default::default()
        }
    }
}

/// The AdamW update, one invocation per parameter: bindings grad (read), param, m, v
/// (read-write), params (uniform).
pub struct Adam;

impl Kernel for Adam {
    type Config = ();
    type Params = AdamParams;
    const NAME: &'static str = "adam";

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, ReadWrite, ReadWrite, ReadWrite, Uniform])
    }

    fn grid((): (), p: &AdamParams) -> Vec<[u32; 3]> {
        let [x, y] = grid_2d(p.count);
        vec![[x, y, 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
