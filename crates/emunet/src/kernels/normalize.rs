//! Wrapper of `shaders/normalize.wgsl`: normalisation of the raw frame (z-score or median-relative,
//! [`crate::model::Normalization`]) into a tile of the reflect-padded network input.

use super::{Access, bind, div_ceil, layout, pipeline};

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
    pub h: u32,
    pub w: u32,
    pub bits: u32,
    pub mode: u32,
    pub oy: u32,
    pub ox: u32,
    pub th: u32,
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

pub struct Normalize {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Normalize {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "normalize", &[Read, Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "normalize", &source(), "main", &layout);
        Normalize { pipeline, layout }
    }

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

    pub fn grid(p: &NormalizeParams) -> [u32; 3] {
        [div_ceil(p.tw, 8), div_ceil(p.th, 8), 1]
    }

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
