//! Wrapper of `shaders/cluster_moments.wgsl`: exact per-cluster sums of a labelling (the GPU form
//! of `clusters::moments`).

use super::{Access, bind, grid_2d, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/cluster_moments.wgsl");

/// u32 words per table row (must match `STRIDE` in the shader).
pub const STRIDE: usize = 26;

/// Where each pixel's weight comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightSource {
    /// Every weight 1.
    Ones,
    /// `weights` holds an f32 per pixel, v.
    Values,
    /// `weights` is the raw frame (`bits` 8 or 16, packed), v = the pixel value.
    Frame { bits: u32 },
}

/// Mirrors `MomentsParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MomentsParams {
    pub w: u32,
    pub h: u32,
    pub capacity: u32,
    /// label_components' block count.
    pub nblocks: u32,
    pub source: u32,
    pub bits: u32,
    pub offset_index: u32,
    /// w = max(0, v − offset) when 1, max(0, offset − v) when 0.
    pub above: u32,
}

impl MomentsParams {
    /// Weights `max(0, v − offset)` (`above`) or `max(0, offset − v)` with the offset read from
    /// `offset[offset_index]` on the GPU.
    pub fn new(
        w: u32,
        h: u32,
        capacity: u32,
        source: WeightSource,
        offset_index: u32,
        above: bool,
    ) -> Self {
        let (source, bits) = match source {
            WeightSource::Ones => (0, 0),
            WeightSource::Values => (1, 0),
            WeightSource::Frame { bits } => (2, bits),
        };
        MomentsParams {
            w,
            h,
            capacity,
            nblocks: (w * h).div_ceil(super::label_components::BLOCK),
            source,
            bits,
            offset_index,
            above: above as u32,
        }
    }
}

pub struct ClusterMoments {
    pub accumulate: wgpu::ComputePipeline,
    pub peaks: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl ClusterMoments {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "cluster_moments",
            &[Read, Read, Read, Read, Read, ReadWrite, Uniform],
        );
        let stage = |entry: &str| {
            pipeline(
                device,
                &format!("cluster_moments.{entry}"),
                SOURCE,
                entry,
                &layout,
            )
        };
        ClusterMoments {
            accumulate: stage("accumulate"),
            peaks: stage("peaks"),
            layout,
        }
    }

    /// `list` and `blocks` are label_components'; `table` holds capacity · STRIDE u32, zero in
    /// every row the labelling will number (an empty row is all zeros).
    #[allow(clippy::too_many_arguments)]
    pub fn bind(
        &self,
        device: &wgpu::Device,
        list: &wgpu::Buffer,
        labels: &wgpu::Buffer,
        weights: &wgpu::Buffer,
        offset: &wgpu::Buffer,
        blocks: &wgpu::Buffer,
        table: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(
            device,
            &self.layout,
            "cluster_moments",
            &[list, labels, weights, offset, blocks, table, params],
        )
    }

    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &MomentsParams) {
        // One workgroup of 64 per block of pixels.
        let [x, y] = grid_2d((p.w * p.h).div_ceil(super::label_components::BLOCK) * 64);
        pass.set_bind_group(0, group, &[]);
        for stage in [&self.accumulate, &self.peaks] {
            pass.set_pipeline(stage);
            pass.dispatch_workgroups(x, y, 1);
        }
    }
}
