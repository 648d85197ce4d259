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
use super::{Access, bind, layout, pipeline};

/// `shaders/maxpool2x2_grad.wgsl`: routes each output gradient to its window's first maximum.
pub const SOURCE: &str = include_str!("../../shaders/maxpool2x2_grad.wgsl");

/// The max-pool backward's pipeline and its bind-group layout.
pub struct Maxpool2x2Grad {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: x, dy (read), dx (read-write), params (uniform).
    pub layout: wgpu::BindGroupLayout,
}

impl Maxpool2x2Grad {
    /// Builds the pipeline and layout on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "maxpool2x2_grad", &[Read, Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "maxpool2x2_grad", SOURCE, "main", &layout);
        Maxpool2x2Grad { pipeline, layout }
    }

    /// A bind group of the forward input `x`, the output gradient `dy`, `dx` and the params.
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
