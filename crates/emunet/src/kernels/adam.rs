//! Wrapper of `shaders/adam.wgsl`: one bias-corrected AdamW step over a parameter buffer.

use super::{Access, bind, grid_2d, layout, pipeline};

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

/// The AdamW step's pipeline and its bind-group layout.
pub struct Adam {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: grad, param, m, v (storage), params (uniform).
    pub layout: wgpu::BindGroupLayout,
}

impl Adam {
    /// Builds the pipeline and layout on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "adam",
            &[Read, ReadWrite, ReadWrite, ReadWrite, Uniform],
        );
        let pipeline = pipeline(device, "adam", SOURCE, "main", &layout);
        Adam { pipeline, layout }
    }

    /// Buffers in binding order: grad, param, m, v, params.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        buffers: [&wgpu::Buffer; 5],
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &buffers)
    }

    /// Records one dispatch into `pass`: one invocation per element of `p.count`.
    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &AdamParams) {
        let [x, y] = grid_2d(p.count);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }
}
