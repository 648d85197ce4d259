//! Wrapper of `shaders/fir_filter.wgsl`: equalisation and the classical FIR high-pass filter.

use super::{Access, bind, grid_2d, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/fir_filter.wgsl");

/// The filter's module: frame_pixel.wgsl (pixel unpacking) + fir_filter.wgsl.
pub fn source() -> String {
    format!("{}\n{SOURCE}", super::normalize::SOURCE_FRAME_PIXEL)
}
/// Adjacent outputs of one row written by one invocation (must match the shader).
pub const PX: u32 = 8;

/// Mirrors `FirTaps`: a `k × k` kernel (k ≤ 6) padded to 6×6 with zero taps, row v's taps 0..3 in
/// `rows[2v]` and 4, 5 in `rows[2v + 1]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FirTaps {
    pub rows: [[i32; 4]; 12],
}

impl FirTaps {
    /// Packs row-major `k × k` taps; None when k > 6.
    pub fn pack(k: usize, taps: &[i32]) -> Option<Self> {
        if k > 6 || taps.len() != k * k {
            return None;
        }
        let mut t = FirTaps::default();
        for v in 0..k {
            for u in 0..k {
                t.rows[2 * v + u / 4][u % 4] = taps[v * k + u];
            }
        }
        Some(t)
    }
}

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
            &[Read, Read, Uniform, ReadWrite, Uniform],
        );
        let pipeline = pipeline(device, "fir_filter", &source(), "main", &layout);
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
        let [x, y] = grid_2d(p.w.div_ceil(PX) * p.h);
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
