//! Wrapper of `shaders/cluster_moments.wgsl`: exact per-cluster sums of a labelling (the GPU form
//! of `clusters::moments`).

use super::{Access, bind, grid_2d, layout, pipeline};

/// `shaders/cluster_moments.wgsl`: exact per-cluster sums (area, moments, weight sums, bounding
/// box, peak) with integer atomics; entries `accumulate` and `peaks`.
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
    Frame {
        /// Bits per pixel of the packed frame: 8 or 16.
        bits: u32,
    },
}

/// Mirrors `MomentsParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MomentsParams {
    /// Frame width in pixels.
    pub w: u32,
    /// Frame height in pixels.
    pub h: u32,
    /// Rows in `table`: pixels of clusters with a larger label are skipped.
    pub capacity: u32,
    /// label_components' block count.
    pub nblocks: u32,
    /// Where the weight comes from: 0 every weight 1, 1 an f32 per pixel, 2 the raw frame.
    pub source: u32,
    /// Bits per pixel of the raw frame (8 or 16) when `source` is 2; unused otherwise.
    pub bits: u32,
    /// Index in the `offset` buffer of the weight's offset (the threshold, the median, …).
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

/// The cluster-moments pipelines (two entry points) and their shared bind-group layout.
pub struct ClusterMoments {
    /// Entry `accumulate`: adds each run of on pixels to its cluster's table row.
    pub accumulate: wgpu::ComputePipeline,
    /// Entry `peaks`: the first pixel holding each row's peak weight (runs after `accumulate`).
    pub peaks: wgpu::ComputePipeline,
    /// The shared bind-group layout: list, labels, weights, offset, blocks, table, params.
    pub layout: wgpu::BindGroupLayout,
}

impl ClusterMoments {
    /// Builds both pipelines and the layout on `device`.
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

    /// Records `accumulate` then `peaks`, one workgroup of 64 per `BLOCK` pixels.
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
