//! Wrapper of `shaders/head1x1_grad.wgsl`: the head's input, weight and bias gradients.

use super::{Access, bind, grid_2d, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/head1x1_grad.wgsl");

/// Mirrors `HeadGradParams`: `count` pixels (batch stacked), `c4` vec4 groups, `chunk` pixels per
/// partial sum.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct HeadGradParams {
    pub count: u32,
    pub c4: u32,
    pub chunk: u32,
    pub _pad: u32,
}

impl HeadGradParams {
    pub fn chunks(&self) -> u32 {
        self.count.div_ceil(self.chunk)
    }
}

pub struct Head1x1Grad {
    pub grad_input: wgpu::ComputePipeline,
    pub partial: wgpu::ComputePipeline,
    pub reduce: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Head1x1Grad {
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
