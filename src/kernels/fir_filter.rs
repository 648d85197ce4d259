//! Wrapper of `shaders/fir_filter.wgsl`: equalisation and the classical FIR high-pass filter.

use super::{Access, bind, grid_2d, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/fir_filter.wgsl");

/// Mirrors `FirFilterParams`: frame `w × h` with `bits` per pixel, a `k × k` kernel whose tap
/// (0, 0) sits at offset `offset` from the output pixel, equalisation on or off.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FirFilterParams {
    pub w: u32,
    pub h: u32,
    pub bits: u32,
    pub k: u32,
    pub offset: i32,
    pub equalise: u32,
    /// The kernel's scale (FEDRA: 1/12), applied with the gain to the integer tap sum.
    pub scale: f32,
    pub _pad: u32,
}

impl FirFilterParams {
    pub fn flops(&self) -> u64 {
        2 * (self.w * self.h * self.k * self.k) as u64
    }
    pub fn bytes(&self) -> u64 {
        (self.w * self.h) as u64 * (self.bits as u64 / 8 + 4)
    }
}

pub struct FirFilter {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl FirFilter {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "fir_filter",
            &[Read, Read, Read, ReadWrite, Uniform],
        );
        let pipeline = pipeline(device, "fir_filter", SOURCE, "main", &layout);
        FirFilter { pipeline, layout }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn bind(
        &self,
        device: &wgpu::Device,
        raw: &wgpu::Buffer,
        stats: &wgpu::Buffer,
        taps: &wgpu::Buffer,
        r: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(
            device,
            &self.layout,
            "fir_filter",
            &[raw, stats, taps, r, params],
        )
    }

    pub fn grid(p: &FirFilterParams) -> [u32; 3] {
        let [x, y] = grid_2d(p.w * p.h);
        [x, y, 1]
    }

    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &FirFilterParams,
    ) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}
