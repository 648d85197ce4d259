//! Wrapper of `shaders/threshold.wgsl`: r > t (or r ≥ t) inside a border → mask bytes (0/255).

use super::{Access, bind, grid_2d, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/threshold.wgsl");

/// Mirrors `ThresholdParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ThresholdParams {
    pub w: u32,
    pub h: u32,
    pub border: u32,
    pub t: f32,
    /// 1: on when r ≥ t (the network's rule); 0: r > t (the classical one).
    pub inclusive: u32,
    pub _pad: [u32; 3],
}

pub struct Threshold {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Threshold {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "threshold", &[Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "threshold", SOURCE, "main", &layout);
        Threshold { pipeline, layout }
    }

    pub fn bind(
        &self,
        device: &wgpu::Device,
        r: &wgpu::Buffer,
        mask: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, "threshold", &[r, mask, params])
    }

    pub fn grid(p: &ThresholdParams) -> [u32; 3] {
        let [x, y] = grid_2d((p.w * p.h).div_ceil(4));
        [x, y, 1]
    }

    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &ThresholdParams,
    ) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}
