//! Wrapper of `shaders/loss.wgsl`: BCE on logits (positive weight) + optional soft Jaccard, its
//! value (fixed-order reduction) and its gradient.

use super::{Access, bind, grid_2d, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/loss.wgsl");

/// Mirrors `LossParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LossParams {
    pub count: u32,
    pub chunk: u32,
    pub pos_weight: f32,
    pub jaccard_weight: f32,
}

impl LossParams {
    pub fn chunks(&self) -> u32 {
        self.count.div_ceil(self.chunk)
    }
}

pub struct Loss {
    pub partial: wgpu::ComputePipeline,
    pub finish: wgpu::ComputePipeline,
    pub grad: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Loss {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "loss",
            &[Read, Read, ReadWrite, ReadWrite, ReadWrite, Uniform],
        );
        let p = |entry: &str| pipeline(device, &format!("loss.{entry}"), SOURCE, entry, &layout);
        Loss {
            partial: p("partial"),
            finish: p("finish"),
            grad: p("grad"),
            layout,
        }
    }

    /// Buffers in binding order: z (logits), t (targets), chunk sums, sums [8], dz, params.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        buffers: [&wgpu::Buffer; 6],
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &buffers)
    }

    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &LossParams) {
        pass.set_bind_group(0, group, &[]);
        let [x, y] = grid_2d(p.chunks());
        pass.set_pipeline(&self.partial);
        pass.dispatch_workgroups(x, y, 1);
        pass.set_pipeline(&self.finish);
        pass.dispatch_workgroups(1, 1, 1);
        let [x, y] = grid_2d(p.count);
        pass.set_pipeline(&self.grad);
        pass.dispatch_workgroups(x, y, 1);
    }
}
