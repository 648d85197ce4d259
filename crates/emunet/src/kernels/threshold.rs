//! Wrapper of `shaders/threshold.wgsl`: r > t (or r ≥ t) inside a border → mask bytes (0/255).

use super::{Access, bind, grid_2d, layout, pipeline};

/// `shaders/threshold.wgsl`: a float map cut into a packed 0/255 mask, inside a border.
pub const SOURCE: &str = include_str!("../../shaders/threshold.wgsl");

/// Mirrors `ThresholdParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ThresholdParams {
    /// Map width in pixels.
    pub w: u32,
    /// Map height in pixels.
    pub h: u32,
    /// The `border` outermost rows and columns on every side stay off.
    pub border: u32,
    /// The threshold: on when r > t (r ≥ t with `inclusive`).
    pub t: f32,
    /// 1: on when r ≥ t (the network's rule); 0: r > t (the classical one).
    pub inclusive: u32,
    /// Padding to the WGSL struct's size (a multiple of 16 bytes).
    pub _pad: [u32; 3],
}

/// The threshold's pipeline and its bind-group layout.
pub struct Threshold {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: r (read), mask (read-write), params (uniform).
    pub layout: wgpu::BindGroupLayout,
}

impl Threshold {
    /// Builds the pipeline and layout on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "threshold", &[Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "threshold", SOURCE, "main", &layout);
        Threshold { pipeline, layout }
    }

    /// A bind group of the map `r`, the `mask` and the params.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        r: &wgpu::Buffer,
        mask: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, "threshold", &[r, mask, params])
    }

    /// Workgroups per axis: one invocation per mask word (4 pixels).
    pub fn grid(p: &ThresholdParams) -> [u32; 3] {
        let [x, y] = grid_2d((p.w * p.h).div_ceil(4));
        [x, y, 1]
    }

    /// Records one dispatch of [`Self::grid`] into `pass`.
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &ThresholdParams,
    ) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}
