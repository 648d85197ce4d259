//! Wrapper of `shaders/mask_area_cut.wgsl`: clears the mask pixels of clusters outside an area
//! range (the classical pipeline's area cut, after `label_components` and `cluster_moments`).

use super::{Access, bind, grid_2d, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/mask_area_cut.wgsl");

/// Mirrors `AreaCutParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AreaCutParams {
    pub w: u32,
    pub h: u32,
    pub min_area: u32,
    pub max_area: u32,
}

pub struct MaskAreaCut {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl MaskAreaCut {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "mask_area_cut", &[Read, Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "mask_area_cut", SOURCE, "main", &layout);
        MaskAreaCut { pipeline, layout }
    }

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

    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &AreaCutParams) {
        let [x, y] = grid_2d((p.w * p.h).div_ceil(4));
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }
}
