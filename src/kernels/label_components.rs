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
    /// init, merge, flatten, count, scan, number, relabel: recorded in this order.
    pub stages: [wgpu::ComputePipeline; 7],
    pub layout: wgpu::BindGroupLayout,
}

const ENTRIES: [&str; 7] = [
    "init", "merge", "flatten", "count", "scan", "number", "relabel",
];

impl LabelComponents {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "label_components",
            &[Read, ReadWrite, ReadWrite, ReadWrite, Uniform],
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

    /// `parent` and `labels` hold H·W u32, `blocks` nblocks + 1; the caller clears `labels` to 0
    /// before each `record`.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        mask: &wgpu::Buffer,
        parent: &wgpu::Buffer,
        blocks: &wgpu::Buffer,
        labels: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(
            device,
            &self.layout,
            "label_components",
            &[mask, parent, blocks, labels, params],
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
