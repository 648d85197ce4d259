//! Wrapper of `shaders/loss.wgsl`: BCE on logits (positive weight) + optional soft Jaccard, its
//! value (fixed-order reduction) and its gradient.

use super::{Access, bind, grid_2d, layout, pipeline};

/// `shaders/loss.wgsl`: BCE with a positive weight + soft Jaccard: `partial`, `finish`, `grad`.
pub const SOURCE: &str = include_str!("../../shaders/loss.wgsl");

/// Mirrors `LossParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LossParams {
    /// Pixels (logits) in the batch.
    pub count: u32,
    /// Pixels per partial sum.
    pub chunk: u32,
    /// BCE weight of the positive class.
    pub pos_weight: f32,
    /// Weight λ of the soft-Jaccard term (0: BCE only).
    pub jaccard_weight: f32,
}

impl LossParams {
    /// Number of chunks, ceil(count / chunk).
    pub fn chunks(&self) -> u32 {
        self.count.div_ceil(self.chunk)
    }
}

/// The loss pipelines (three entry points) and their shared bind-group layout.
pub struct Loss {
    /// Entry `partial`: per chunk, Σ bce, Σ p·t, Σ p and Σ t.
    pub partial: wgpu::ComputePipeline,
    /// Entry `finish`: one invocation summing the chunks in order; the loss value in `sums[4]`.
    pub finish: wgpu::ComputePipeline,
    /// Entry `grad`: dloss/dz per pixel, from the sums.
    pub grad: wgpu::ComputePipeline,
    /// The shared bind-group layout: z, t (read), chunk sums, sums, dz (read-write), params.
    pub layout: wgpu::BindGroupLayout,
}

impl Loss {
    /// Builds the three pipelines and the layout on `device`.
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

    /// Buffers in binding order: z (logits), t (targets), chunk sums, sums (8 values), dz, params.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        buffers: [&wgpu::Buffer; 6],
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &buffers)
    }

    /// Records `partial`, `finish` and `grad`, in that order.
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
