//! Wrapper of `shaders/conv3x3_grad_input.wgsl`: conv3x3's input gradient(s), ReLU mask fused.

use super::conv3x3::{Conv3x3Params, OB, PX, module_source};
use super::{Access, Variant, bind, div_ceil, grid_2d, layout, pipeline};

/// `shaders/conv3x3_grad_input.wgsl`: the body of the input gradient(s), ReLU mask fused.
pub const SOURCE: &str = include_str!("../../shaders/conv3x3_grad_input.wgsl");

/// The conv3x3 input-gradient pipeline and its bind-group layout.
pub struct Conv3x3GradInput {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: dy, y, weight (read), dx_a, dx_b (read-write), params (uniform).
    pub layout: wgpu::BindGroupLayout,
    /// How weight blocks reach the registers (direct or subgroup).
    pub variant: Variant,
}

impl Conv3x3GradInput {
    /// Builds the pipeline for `variant` (storage-buffer weights) and its layout on `device`.
    pub fn new(device: &wgpu::Device, variant: Variant) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "conv3x3_grad_input",
            &[Read, Read, Read, ReadWrite, ReadWrite, Uniform],
        );
        let source = module_source(SOURCE, variant);
        let pipeline = pipeline(device, "conv3x3_grad_input", &source, "main", &layout);
        Conv3x3GradInput {
            pipeline,
            layout,
            variant,
        }
    }

    /// Binds the output gradient `dy`, the forward output `y` (for the ReLU mask), the packed
    /// weights, the input gradients `dx_a`, `dx_b` (pass `dx_a` twice for one input) and params.
    #[allow(clippy::too_many_arguments)]
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        dy: &wgpu::Buffer,
        y: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        dx_a: &wgpu::Buffer,
        dx_b: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(
            device,
            &self.layout,
            label,
            &[dy, y, weight, dx_a, dx_b, params],
        )
    }

    /// The grid for the forward conv's params `p`.
    pub fn grid(p: &Conv3x3Params) -> [u32; 3] {
        let [x, y] = grid_2d(div_ceil(p.w, PX) * p.h);
        [x, y, p.n * div_ceil(p.ca4 + p.cb4, OB)]
    }

    /// Records one dispatch of [`Self::grid`] into `pass`.
    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &Conv3x3Params) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}
