//! Wrapper of `shaders/frame_stats.wgsl`: histogram of the raw frame, then mean and std of the
//! normalised pixel values, all on the GPU.

use super::{Access, bind, layout, pipeline};

/// `shaders/frame_stats.wgsl`: the raw frame's histogram, then its mean, std and median.
pub const SOURCE: &str = include_str!("../../shaders/frame_stats.wgsl");

/// Mirrors `FrameStatsParams`: pixel count, bits per pixel (8 or 16), packed u32 words.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FrameStatsParams {
    /// Pixels in the frame.
    pub count: u32,
    /// Bits per pixel, 8 or 16 (the histogram has 2^bits bins).
    pub bits: u32,
    /// Packed u32 words of the frame (one `histogram` invocation each).
    pub words: u32,
    /// Padding to the WGSL struct's 16-byte size.
    pub _pad: u32,
}

/// The frame-statistics pipelines (two entry points) and their shared bind-group layout.
pub struct FrameStats {
    /// Entry `histogram`: counts each pixel value with integer atomics.
    pub histogram: wgpu::ComputePipeline,
    /// Entry `reduce`: one workgroup turning the histogram into mean, std and median.
    pub reduce: wgpu::ComputePipeline,
    /// The shared bind-group layout: raw (read), hist, stats (read-write), params (uniform).
    pub layout: wgpu::BindGroupLayout,
}

impl FrameStats {
    /// Builds both pipelines and the layout on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "frame_stats",
            &[Read, ReadWrite, ReadWrite, Uniform],
        );
        let histogram = pipeline(
            device,
            "frame_stats.histogram",
            SOURCE,
            "histogram",
            &layout,
        );
        let reduce = pipeline(device, "frame_stats.reduce", SOURCE, "reduce", &layout);
        FrameStats {
            histogram,
            reduce,
            layout,
        }
    }

    /// `hist` must hold 2^bits u32 and be cleared (zeroed) before each frame's `record`.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        raw: &wgpu::Buffer,
        hist: &wgpu::Buffer,
        stats: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &[raw, hist, stats, params])
    }

    /// Records the histogram and the reduction (the caller clears `hist` before the pass).
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &FrameStatsParams,
    ) {
        let groups = p.words.div_ceil(64);
        let x = groups.min(32768);
        let y = groups.div_ceil(x);
        pass.set_bind_group(0, group, &[]);
        pass.set_pipeline(&self.histogram);
        pass.dispatch_workgroups(x, y, 1);
        pass.set_pipeline(&self.reduce);
        pass.dispatch_workgroups(1, 1, 1);
    }
}
