//! Wrapper of `shaders/label_components.wgsl`: connected components of a mask numbered in raster
//! order (the GPU form of `clusters::label`).

use super::{Access, bind, grid_2d, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/label_components.wgsl");

/// Pixels per block of the root count (must match `BLOCK` in the shader).
pub const BLOCK: u32 = 2048;

/// Mirrors `LabelParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LabelParams {
    pub w: u32,
    pub h: u32,
    /// 1: 8-connectivity, 0: 4-connectivity.
    pub eight: u32,
    pub nblocks: u32,
}

impl LabelParams {
    pub fn new(w: u32, h: u32, eight: bool) -> Self {
        LabelParams {
            w,
            h,
            eight: eight as u32,
            nblocks: (w * h).div_ceil(BLOCK),
        }
    }
}

pub struct LabelComponents {
    /// One pipeline per entry point, in recording order (`ENTRIES`).
    pub stages: [wgpu::ComputePipeline; 9],
    pub layout: wgpu::BindGroupLayout,
}

/// The entry points in recording order (the scan runs twice: on pixels, then roots).
const ENTRIES: [&str; 9] = [
    "count_on", "scan", "compact", "init", "merge", "flatten", "scan", "number", "relabel",
];

impl LabelComponents {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "label_components",
            &[Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, Uniform],
        );
        let stages = ENTRIES.map(|entry| {
            pipeline(
                device,
                &format!("label_components.{entry}"),
                SOURCE,
                entry,
                &layout,
            )
        });
        LabelComponents { stages, layout }
    }

    /// `parent`, `list` and `labels` hold H·W u32, `blocks` nblocks + 2; the caller clears
    /// `labels` to 0 before each `record`.
    #[allow(clippy::too_many_arguments)]
    pub fn bind(
        &self,
        device: &wgpu::Device,
        mask: &wgpu::Buffer,
        parent: &wgpu::Buffer,
        blocks: &wgpu::Buffer,
        list: &wgpu::Buffer,
        labels: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(
            device,
            &self.layout,
            "label_components",
            &[mask, parent, blocks, list, labels, params],
        )
    }

    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &LabelParams) {
        // One workgroup of 64 per block, in every pass but the scan.
        let blocks = grid_2d(p.nblocks * 64);
        pass.set_bind_group(0, group, &[]);
        for (stage, entry) in self.stages.iter().zip(ENTRIES) {
            let [x, y] = if entry == "scan" { [1, 1] } else { blocks };
            pass.set_pipeline(stage);
            pass.dispatch_workgroups(x, y, 1);
        }
    }
}
