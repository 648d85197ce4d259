//! Wrapper of `shaders/conv3x3_grad_weight.wgsl`: conv3x3's weight and bias gradients (ReLU mask
//! fused), as per-chunk partial sums and a fixed-order reduction.

use super::{Access, bind, grid_2d, layout, pipeline};

/// `shaders/conv3x3_grad_weight.wgsl`: weight and bias gradients, entries `partial` and `reduce`.
pub const SOURCE: &str = include_str!("../../shaders/conv3x3_grad_weight.wgsl");

/// Mirrors `GradWeightParams`: the forward conv's shape and `rows` rows per chunk.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GradWeightParams {
    /// Batch size (images).
    pub n: u32,
    /// Height in pixels of the forward conv's input and output.
    pub h: u32,
    /// Width in pixels of the forward conv's input and output.
    pub w: u32,
    /// Channel groups of 4 of the forward conv's first input `x_a`.
    pub ca4: u32,
    /// Channel groups of 4 of its second input `x_b`; 0 for one input.
    pub cb4: u32,
    /// Channel groups of 4 of its output.
    pub co4: u32,
    /// 1: the forward conv applied ReLU, so dy counts only where y > 0.
    pub relu: u32,
    /// Image rows per chunk of the partial sums.
    pub rows: u32,
}

impl GradWeightParams {
    /// Number of chunks (partial sums per weight element).
    pub fn chunks(&self) -> u32 {
        self.n * self.h.div_ceil(self.rows)
    }
    /// Rows per chunk giving about `target` partial-sum invocations (enough parallel work).
    pub fn rows_for(n: u32, h: u32, pairs: u32, target: u32) -> u32 {
        let per_image = target.div_ceil(n * pairs).clamp(1, h);
        h.div_ceil(per_image)
    }
    /// vec4s of partial_w and partial_b.
    pub fn partial_len(&self) -> (u64, u64) {
        let c = self.chunks() as u64;
        (
            c * (self.co4 * (self.ca4 + self.cb4) * 36) as u64,
            c * self.co4 as u64,
        )
    }
}

/// The conv3x3 weight-gradient pipelines (two entry points) and their shared layout.
pub struct Conv3x3GradWeight {
    /// Entry `partial`: each chunk's sums of the nine weight blocks and of the bias gradient.
    pub partial: wgpu::ComputePipeline,
    /// Entry `reduce`: sums the chunks' partials, in chunk order, into grad_w and grad_b.
    pub reduce: wgpu::ComputePipeline,
    /// The shared bind-group layout: x_a, x_b, dy, y, partial_w, partial_b, grad_w, grad_b, params.
    pub layout: wgpu::BindGroupLayout,
}

impl Conv3x3GradWeight {
    /// Builds both pipelines and the layout on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "conv3x3_grad_weight",
            &[
                Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, Uniform,
            ],
        );
        let partial = pipeline(
            device,
            "conv3x3_grad_weight.partial",
            SOURCE,
            "partial",
            &layout,
        );
        let reduce = pipeline(
            device,
            "conv3x3_grad_weight.reduce",
            SOURCE,
            "reduce",
            &layout,
        );
        Conv3x3GradWeight {
            partial,
            reduce,
            layout,
        }
    }

    /// Buffers in binding order: x_a, x_b, dy, y, partial_w, partial_b, grad_w, grad_b, params.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        buffers: [&wgpu::Buffer; 9],
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &buffers)
    }

    /// Records `partial` (chunks · co4 · cin4 items), then `reduce` (co4 · cin4 · 36 + co4 items).
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &GradWeightParams,
    ) {
        let cin4 = p.ca4 + p.cb4;
        pass.set_bind_group(0, group, &[]);
        let [x, y] = grid_2d(p.chunks() * p.co4 * cin4);
        pass.set_pipeline(&self.partial);
        pass.dispatch_workgroups(x, y, 1);
        let [x, y] = grid_2d(p.co4 * cin4 * 36 + p.co4);
        pass.set_pipeline(&self.reduce);
        pass.dispatch_workgroups(x, y, 1);
    }
}
