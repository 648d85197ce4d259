//! Wrappers of `shaders/upconv2x2_grad_input.wgsl` and `shaders/upconv2x2_grad_weight.wgsl`: the
//! up-convolution's input, weight and bias gradients.

use super::upconv2x2::{OB, PX, Upconv2x2Params, module_source};
use super::{Access, Variant, bind, div_ceil, grid_2d, layout, pipeline};

/// `shaders/upconv2x2_grad_input.wgsl`: the input gradient's body (built with `module_source`).
pub const SOURCE_INPUT: &str = include_str!("../../shaders/upconv2x2_grad_input.wgsl");
/// `shaders/upconv2x2_grad_weight.wgsl`: weight and bias gradients, `partial` and `reduce`.
pub const SOURCE_WEIGHT: &str = include_str!("../../shaders/upconv2x2_grad_weight.wgsl");

/// The up-conv input-gradient pipeline and its bind-group layout.
pub struct Upconv2x2GradInput {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: dy, weight (read), dx (read-write), params (uniform).
    pub layout: wgpu::BindGroupLayout,
    /// How tap blocks reach the registers (direct or subgroup).
    pub variant: Variant,
}

impl Upconv2x2GradInput {
    /// Builds the pipeline for `variant` (storage-buffer weights) and its layout on `device`.
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

    /// A bind group of the output gradient `dy`, the packed `weight`, `dx` and the params.
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

    /// Records one dispatch of [`Self::grid`] into `pass`.
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
    /// Batch size (images).
    pub n: u32,
    /// Height in pixels of the forward op's input.
    pub h: u32,
    /// Width in pixels of the forward op's input.
    pub w: u32,
    /// Channel groups of 4 of the forward op's input.
    pub ci4: u32,
    /// Channel groups of 4 of the forward op's output.
    pub co4: u32,
    /// Input rows per chunk of the partial sums.
    pub rows: u32,
    /// Padding to the WGSL struct's size (a multiple of 16 bytes).
    pub _pad: [u32; 2],
}

impl UpGradWeightParams {
    /// Number of chunks (partial sums per gradient vec4): n · ceil(h / rows).
    pub fn chunks(&self) -> u32 {
        self.n * self.h.div_ceil(self.rows)
    }
    /// vec4s of partial_w and partial_b.
    pub fn partial_len(&self) -> (u64, u64) {
        let c = self.chunks() as u64;
        (c * (self.co4 * self.ci4 * 16) as u64, c * self.co4 as u64)
    }
}

/// The up-conv weight-gradient pipelines (two entry points) and their shared layout.
pub struct Upconv2x2GradWeight {
    /// Entry `partial`: each chunk's sums of the four tap blocks and of the bias gradient.
    pub partial: wgpu::ComputePipeline,
    /// Entry `reduce`: sums the chunks' partials, in chunk order, into grad_w and grad_b.
    pub reduce: wgpu::ComputePipeline,
    /// The shared bind-group layout: x, dy, partial_w, partial_b, grad_w, grad_b, params.
    pub layout: wgpu::BindGroupLayout,
}

impl Upconv2x2GradWeight {
    /// Builds both pipelines and the layout on `device`.
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

    /// Records `partial` (chunks · co4 · ci4 items), then `reduce` (co4 · ci4 · 16 + co4 items).
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
