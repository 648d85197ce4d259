//! Wrapper of `shaders/mask_area_cut.wgsl`: clears the mask pixels of clusters outside an area
//! range (the classical pipeline's area cut, after `label_components` and `cluster_moments`).

use super::{Access, bind, grid_2d, layout, pipeline};

/// `shaders/mask_area_cut.wgsl`: clears the mask pixels of clusters outside the area range.
pub const SOURCE: &str = include_str!("../../shaders/mask_area_cut.wgsl");

/// Mirrors `AreaCutParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AreaCutParams {
    /// Mask width in pixels.
    pub w: u32,
    /// Mask height in pixels.
    pub h: u32,
    /// Smallest area kept, in pixels (inclusive).
    pub min_area: u32,
    /// Largest area kept, in pixels (inclusive).
    pub max_area: u32,
}

/// The area cut's pipeline and its bind-group layout.
pub struct MaskAreaCut {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: labels, table (read), mask (read-write), params (uniform).
    pub layout: wgpu::BindGroupLayout,
}

impl MaskAreaCut {
    /// Builds the pipeline and layout on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "mask_area_cut", &[Read, Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "mask_area_cut", SOURCE, "main", &layout);
        MaskAreaCut { pipeline, layout }
    }

    /// A bind group of `labels`, cluster_moments' `table`, the `mask` and the params.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        labels: &wgpu::Buffer,
        table: &wgpu::Buffer,
        mask: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(
            device,
            &self.layout,
            "mask_area_cut",
            &[labels, table, mask, params],
        )
    }

    /// Records one dispatch into `pass`: one invocation per mask word (4 pixels).
    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &AreaCutParams) {
        let [x, y] = grid_2d((p.w * p.h).div_ceil(4));
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }
}
