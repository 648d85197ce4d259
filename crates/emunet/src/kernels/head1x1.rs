//! Wrapper of `shaders/head1x1.wgsl`: 1×1 conv C → 1 + bias + sigmoid, writing a tile's core
//! into the frame-sized probability map.

use super::{Access, bind, div_ceil, layout, pipeline};

/// `shaders/head1x1.wgsl`: the U-Net head, 1×1 conv C → 1, bias and sigmoid, cropped to the frame.
pub const SOURCE: &str = include_str!("../../shaders/head1x1.wgsl");

/// Mirrors `Head1x1Params`. The tile is `th × tw` with `c4` vec4 channel groups; its core
/// `[cy0, cy1) × [cx0, cx1)` (tile coordinates) goes to frame position `(oy, ox) + (ty, tx)`,
/// clipped to `out_h × out_w`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Head1x1Params {
    /// Tile height in pixels.
    pub th: u32,
    /// Tile width in pixels (the row length of `x`).
    pub tw: u32,
    /// Channel groups of 4 of the input (channels padded to a multiple of 4).
    pub c4: u32,
    /// 1: write the logit instead of the probability (training).
    pub logits: u32,
    /// First core row, in tile coordinates.
    pub cy0: u32,
    /// End of the core rows (exclusive).
    pub cy1: u32,
    /// First core column, in tile coordinates.
    pub cx0: u32,
    /// End of the core columns (exclusive).
    pub cx1: u32,
    /// Frame row of the tile's row 0.
    pub oy: u32,
    /// Frame column of the tile's column 0.
    pub ox: u32,
    /// Frame height in pixels; rows past it are cropped.
    pub out_h: u32,
    /// Frame width in pixels: the output's row length; columns past it are cropped.
    pub out_w: u32,
}

impl Head1x1Params {
    /// Floating-point operations over the core: per pixel, 2 per real channel `c` plus 4.
    pub fn flops(&self, c: usize) -> u64 {
        ((self.cy1 - self.cy0) * (self.cx1 - self.cx0)) as u64 * (2 * c as u64 + 4)
    }
    /// Minimal bytes over the core: each input vec4 read once, one f32 written per pixel.
    pub fn bytes(&self) -> u64 {
        ((self.cy1 - self.cy0) * (self.cx1 - self.cx0)) as u64 * (16 * self.c4 as u64 + 4)
    }
}

/// The head's pipeline and its bind-group layout.
pub struct Head1x1 {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: x, weight, bias (read), prob (read-write), params (uniform).
    pub layout: wgpu::BindGroupLayout,
}

impl Head1x1 {
    /// Builds the pipeline and layout on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "head1x1", &[Read, Read, Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "head1x1", SOURCE, "main", &layout);
        Head1x1 { pipeline, layout }
    }

    /// A bind group of the input `x`, the head's `weight` and `bias`, the map `prob` and params.
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

    /// Workgroups per axis: 8×8 groups covering the core rectangle.
    pub fn grid(p: &Head1x1Params) -> [u32; 3] {
        [div_ceil(p.cx1 - p.cx0, 8), div_ceil(p.cy1 - p.cy0, 8), 1]
    }

    /// Records one dispatch of [`Self::grid`] into `pass`.
    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &Head1x1Params) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}
