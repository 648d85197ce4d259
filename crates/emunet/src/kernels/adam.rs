//! Wrapper of `shaders/adam.wgsl`: one bias-corrected AdamW step over a parameter buffer.

use super::{Access, bind, grid_2d, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/adam.wgsl");

/// Mirrors `AdamParams`; `c1 = 1 − β1^step`, `c2 = 1 − β2^step`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamParams {
    pub count: u32,
    pub _pad: u32,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub c1: f32,
    pub c2: f32,
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

pub struct Adam {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Adam {
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

    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &AdamParams) {
        let [x, y] = grid_2d(p.count);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }
}
