//! Wrappers of `shaders/upconv2x2_grad_input.wgsl` and `shaders/upconv2x2_grad_weight.wgsl`: the
//! up-convolution's input, weight and bias gradients.

use super::upconv2x2::{OB, PX, Upconv2x2Params, module_source};
use super::{Access, Variant, bind, div_ceil, grid_2d, layout, pipeline};

pub const SOURCE_INPUT: &str = include_str!("../../shaders/upconv2x2_grad_input.wgsl");
pub const SOURCE_WEIGHT: &str = include_str!("../../shaders/upconv2x2_grad_weight.wgsl");

pub struct Upconv2x2GradInput {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub variant: Variant,
}

impl Upconv2x2GradInput {
    pub fn new(device: &wgpu::Device, variant: Variant) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "upconv2x2_grad_input",
            &[Read, Read, ReadWrite, Uniform],
        );
        let source = module_source(SOURCE_INPUT, variant);
        let pipeline = pipeline(device, "upconv2x2_grad_input", &source, "main", &layout);
        Upconv2x2GradInput {
            pipeline,
            layout,
            variant,
        }
    }

    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        dy: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        dx: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &[dy, weight, dx, params])
    }

    /// The grid for the forward op's params `p`.
    pub fn grid(p: &Upconv2x2Params) -> [u32; 3] {
        let [x, y] = grid_2d(div_ceil(p.w, PX) * p.h);
        [x, y, p.n * div_ceil(p.ci4, OB)]
    }

    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &Upconv2x2Params,
    ) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Mirrors `UpGradWeightParams`: the forward op's input shape and `rows` input rows per chunk.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct UpGradWeightParams {
    pub n: u32,
    pub h: u32,
    pub w: u32,
    pub ci4: u32,
    pub co4: u32,
    pub rows: u32,
    pub _pad: [u32; 2],
}

impl UpGradWeightParams {
    pub fn chunks(&self) -> u32 {
        self.n * self.h.div_ceil(self.rows)
    }
    /// vec4s of partial_w and partial_b.
    pub fn partial_len(&self) -> (u64, u64) {
        let c = self.chunks() as u64;
        (c * (self.co4 * self.ci4 * 16) as u64, c * self.co4 as u64)
    }
}

pub struct Upconv2x2GradWeight {
    pub partial: wgpu::ComputePipeline,
    pub reduce: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Upconv2x2GradWeight {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "upconv2x2_grad_weight",
            &[
                Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, Uniform,
            ],
        );
        let partial = pipeline(
            device,
            "upconv2x2_grad_weight.partial",
            SOURCE_WEIGHT,
            "partial",
            &layout,
        );
        let reduce = pipeline(
            device,
            "upconv2x2_grad_weight.reduce",
            SOURCE_WEIGHT,
            "reduce",
            &layout,
        );
        Upconv2x2GradWeight {
            partial,
            reduce,
            layout,
        }
    }

    /// Buffers in binding order: x, dy, partial_w, partial_b, grad_w, grad_b, params.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        buffers: [&wgpu::Buffer; 7],
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &buffers)
    }

    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &UpGradWeightParams,
    ) {
        pass.set_bind_group(0, group, &[]);
        let [x, y] = grid_2d(p.chunks() * p.co4 * p.ci4);
        pass.set_pipeline(&self.partial);
        pass.dispatch_workgroups(x, y, 1);
        let [x, y] = grid_2d(p.co4 * p.ci4 * 16 + p.co4);
        pass.set_pipeline(&self.reduce);
        pass.dispatch_workgroups(x, y, 1);
    }
}
