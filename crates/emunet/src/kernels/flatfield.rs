//! Wrapper of `shaders/flatfield.wgsl`: the camera's fixed pattern taken out of the packed raw
//! frame in place, on the GPU. Reference: [`crate::flatfield::FlatField::apply`].

use super::{Access, bind, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/flatfield.wgsl");

/// Mirrors `FlatFieldParams`: pixel count, frame width, bits per pixel (8 or 16), packed words.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FlatFieldParams {
    pub count: u32,
    pub width: u32,
    pub bits: u32,
    pub words: u32,
}

pub struct FlatFieldKernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl FlatFieldKernel {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "flatfield", &[ReadWrite, Read, Read, Uniform]);
        let pipeline = pipeline(device, "flatfield", SOURCE, "main", &layout);
        FlatFieldKernel { pipeline, layout }
    }

    /// `offset`: [width] f32; `inv_gain`: [count] f32 (see the shader).
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        raw: &wgpu::Buffer,
        offset: &wgpu::Buffer,
        inv_gain: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(
            device,
            &self.layout,
            label,
            &[raw, offset, inv_gain, params],
        )
    }

    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &FlatFieldParams,
    ) {
        let groups = p.words.div_ceil(64);
        let x = groups.clamp(1, 32768);
        let y = groups.div_ceil(x).max(1);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }
}
