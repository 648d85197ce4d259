//! Wrapper of `shaders/head1x1_grad.wgsl`: the head's input, weight and bias gradients.

use super::{Access, bind, grid_2d, layout, pipeline};

/// `shaders/head1x1_grad.wgsl`: the head's backward, entries `grad_input`, `partial`, `reduce`.
pub const SOURCE: &str = include_str!("../../shaders/head1x1_grad.wgsl");

/// Mirrors `HeadGradParams`: `count` pixels (batch stacked), `c4` vec4 groups, `chunk` pixels per
/// partial sum.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct HeadGradParams {
    /// Pixels of the batch (images stacked as rows).
    pub count: u32,
    /// Channel groups of 4 of the head's input.
    pub c4: u32,
    /// Pixels per partial sum of the weight and bias gradients.
    pub chunk: u32,
    /// Padding to the WGSL struct's 16-byte size.
    pub _pad: u32,
}

impl HeadGradParams {
    /// Number of chunks, ceil(count / chunk).
    pub fn chunks(&self) -> u32 {
        self.count.div_ceil(self.chunk)
    }
}

/// The head's backward pipelines (three entry points) and their shared bind-group layout.
pub struct Head1x1Grad {
    /// Entry `grad_input`: dx = w · g, one invocation per pixel.
    pub grad_input: wgpu::ComputePipeline,
    /// Entry `partial`: per chunk and channel group, the sums of g · x (dW), and of g (db).
    pub partial: wgpu::ComputePipeline,
    /// Entry `reduce`: sums the chunks in order into grad_w and grad_b.
    pub reduce: wgpu::ComputePipeline,
    /// The shared bind-group layout: x, g, weight, dx, partial, grad_w, grad_b, params.
    pub layout: wgpu::BindGroupLayout,
}

impl Head1x1Grad {
    /// Builds the three pipelines and the layout on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "head1x1_grad",
            &[
                Read, Read, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, Uniform,
            ],
        );
        let p = |entry: &str| {
            pipeline(
                device,
                &format!("head1x1_grad.{entry}"),
                SOURCE,
                entry,
                &layout,
            )
        };
        Head1x1Grad {
            grad_input: p("grad_input"),
            partial: p("partial"),
            reduce: p("reduce"),
            layout,
        }
    }

    /// Buffers in binding order: x, g, weight, dx, partial, grad_w, grad_b, params.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        buffers: [&wgpu::Buffer; 8],
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &buffers)
    }

    /// Records `grad_input`, `partial` and `reduce`, in that order.
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &HeadGradParams,
    ) {
        pass.set_bind_group(0, group, &[]);
        let [x, y] = grid_2d(p.count);
        pass.set_pipeline(&self.grad_input);
        pass.dispatch_workgroups(x, y, 1);
        let [x, y] = grid_2d(p.chunks() * (p.c4 + 1));
        pass.set_pipeline(&self.partial);
        pass.dispatch_workgroups(x, y, 1);
        let [x, y] = grid_2d(p.c4 + 1);
        pass.set_pipeline(&self.reduce);
        pass.dispatch_workgroups(x, y, 1);
    }
}
