//! Wrapper of `shaders/maxpool2x2_grad.wgsl`: max-pooling's backward (to the first maximum).

use super::maxpool2x2::{Maxpool2x2, Maxpool2x2Params};

/// Mirrors `Maxpool2x2GradParams`: the forward pooling's shape and whether to add to dx.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Maxpool2x2GradParams {
    pub n: u32,
    pub h: u32,
    pub w: u32,
    pub c4: u32,
    pub accumulate: u32,
    pub _pad: [u32; 3],
}
use super::{Access, bind, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/maxpool2x2_grad.wgsl");

pub struct Maxpool2x2Grad {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Maxpool2x2Grad {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "maxpool2x2_grad", &[Read, Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "maxpool2x2_grad", SOURCE, "main", &layout);
        Maxpool2x2Grad { pipeline, layout }
    }

    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        x: &wgpu::Buffer,
        dy: &wgpu::Buffer,
        dx: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &[x, dy, dx, params])
    }

    /// One invocation per output vec4, as in the forward.
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &Maxpool2x2GradParams,
    ) {
        let forward = Maxpool2x2Params {
            n: p.n,
            h: p.h,
            w: p.w,
            c4: p.c4,
        };
        let [x, y, z] = Maxpool2x2::grid(&forward);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}
