//! Wrapper of `shaders/head1x1.wgsl`: 1×1 conv C → 1 + bias + sigmoid, writing a tile's core
//! into the frame-sized probability map.

use super::{Access, bind, div_ceil, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/head1x1.wgsl");

/// Mirrors `Head1x1Params`. The tile is `th × tw` with `c4` vec4 channel groups; its core
/// `[cy0, cy1) × [cx0, cx1)` (tile coordinates) goes to frame position `(oy, ox) + (ty, tx)`,
/// clipped to `out_h × out_w`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Head1x1Params {
    pub th: u32,
    pub tw: u32,
    pub c4: u32,
    /// 1: write the logit instead of the probability (training).
    pub logits: u32,
    pub cy0: u32,
    pub cy1: u32,
    pub cx0: u32,
    pub cx1: u32,
    pub oy: u32,
    pub ox: u32,
    pub out_h: u32,
    pub out_w: u32,
}

impl Head1x1Params {
    pub fn flops(&self, c: usize) -> u64 {
        ((self.cy1 - self.cy0) * (self.cx1 - self.cx0)) as u64 * (2 * c as u64 + 4)
    }
    pub fn bytes(&self) -> u64 {
        ((self.cy1 - self.cy0) * (self.cx1 - self.cx0)) as u64 * (16 * self.c4 as u64 + 4)
    }
}

pub struct Head1x1 {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Head1x1 {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "head1x1", &[Read, Read, Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "head1x1", SOURCE, "main", &layout);
        Head1x1 { pipeline, layout }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        x: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        bias: &wgpu::Buffer,
        prob: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(
            device,
            &self.layout,
            label,
            &[x, weight, bias, prob, params],
        )
    }

    pub fn grid(p: &Head1x1Params) -> [u32; 3] {
        [div_ceil(p.cx1 - p.cx0, 8), div_ceil(p.cy1 - p.cy0, 8), 1]
    }

    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &Head1x1Params) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}
