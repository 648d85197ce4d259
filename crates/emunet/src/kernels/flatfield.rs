//! Wrapper of `shaders/flatfield.wgsl`: the camera's fixed pattern taken out of the packed raw
//! frame in place, on the GPU. Reference: [`crate::flatfield::FlatField::apply`].

use super::{Access, bind, layout, pipeline};

/// `shaders/flatfield.wgsl`: the fixed-pattern correction of the packed raw frame, in place.
pub const SOURCE: &str = include_str!("../../shaders/flatfield.wgsl");

/// Mirrors `FlatFieldParams`: pixel count, frame width, bits per pixel (8 or 16), packed words.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FlatFieldParams {
    /// Pixels in the frame (the padding pixels of the last word are left as they are).
    pub count: u32,
    /// Frame width in pixels (the length of the column offsets).
    pub width: u32,
    /// Bits per pixel, 8 or 16.
    pub bits: u32,
    /// Packed u32 words of the frame (one invocation each).
    pub words: u32,
}

/// The flat-field correction's pipeline and its bind-group layout.
pub struct FlatFieldKernel {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: raw (read-write), offset, inv_gain (read), params (uniform).
    pub layout: wgpu::BindGroupLayout,
}

impl FlatFieldKernel {
    /// Builds the pipeline and layout on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "flatfield", &[ReadWrite, Read, Read, Uniform]);
        let pipeline = pipeline(device, "flatfield", SOURCE, "main", &layout);
        FlatFieldKernel { pipeline, layout }
    }

    /// `offset`: `[width]` f32; `inv_gain`: `[count]` f32 (see the shader).
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

    /// Records one dispatch into `pass`: one invocation per packed word.
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
