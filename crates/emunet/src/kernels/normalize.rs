//! Wrapper of `shaders/normalize.wgsl`: normalisation of the raw frame (z-score or median-relative,
//! [`crate::model::Normalization`]) into a tile of the reflect-padded network input.

use super::{Access, bind, div_ceil, layout, pipeline};

/// `shaders/normalize.wgsl`: normalisation, reflect padding and tiling of the raw frame.
pub const SOURCE: &str = include_str!("../../shaders/normalize.wgsl");
/// Reading and normalising one frame pixel, prepended to normalize.wgsl, conv3x3_frame.wgsl and
/// fir_filter.wgsl.
pub const SOURCE_FRAME_PIXEL: &str = include_str!("../../shaders/frame_pixel.wgsl");

/// The normalize module: frame_pixel.wgsl + normalize.wgsl.
pub fn source() -> String {
    format!("{SOURCE_FRAME_PIXEL}\n{SOURCE}")
}

/// Mirrors `NormalizeParams`: frame `h × w` with `bits` per pixel; the tile `th × tw` starts at
/// padded-frame position `(oy, ox)`; `mode` is [`NormalizeParams::mode_of`] the rule.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct NormalizeParams {
    /// Frame height in pixels (rows past it reflect).
    pub h: u32,
    /// Frame width in pixels (columns past it reflect).
    pub w: u32,
    /// Bits per raw pixel (8 or 16).
    pub bits: u32,
    /// 0: z-score, 1: median-relative ([`NormalizeParams::mode_of`]).
    pub mode: u32,
    /// Padded-frame row of the tile's row 0.
    pub oy: u32,
    /// Padded-frame column of the tile's column 0.
    pub ox: u32,
    /// Tile height in pixels.
    pub th: u32,
    /// Tile width in pixels.
    pub tw: u32,
}

impl NormalizeParams {
    /// The shader's `mode` for a rule.
    pub fn mode_of(rule: crate::model::Normalization) -> u32 {
        match rule {
            crate::model::Normalization::Zscore => 0,
            crate::model::Normalization::Median => 1,
        }
    }
}

/// The normalisation's pipeline and its bind-group layout.
pub struct Normalize {
    /// The compute pipeline (the module of [`source`]).
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: raw, stats (read), x (read-write), params (uniform).
    pub layout: wgpu::BindGroupLayout,
}

impl Normalize {
    /// Builds the pipeline and layout on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "normalize", &[Read, Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "normalize", &source(), "main", &layout);
        Normalize { pipeline, layout }
    }

    /// A bind group of the raw frame, frame_stats' `stats`, the tile `x` and the params.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        raw: &wgpu::Buffer,
        stats: &wgpu::Buffer,
        x: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &[raw, stats, x, params])
    }

    /// Workgroups per axis: 8×8 groups covering the tile.
    pub fn grid(p: &NormalizeParams) -> [u32; 3] {
        [div_ceil(p.tw, 8), div_ceil(p.th, 8), 1]
    }

    /// Records one dispatch of [`Self::grid`] into `pass`.
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &NormalizeParams,
    ) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}
