//! Wrapper of `shaders/label_components.wgsl`: connected components of a mask numbered in raster
//! order (the GPU form of `clusters::label`).

use super::{Access, bind, grid_2d, layout, pipeline};

/// `shaders/label_components.wgsl`: compaction, union-find and raster-order numbering passes.
pub const SOURCE: &str = include_str!("../../shaders/label_components.wgsl");

/// Pixels per block of the root count (must match `BLOCK` in the shader).
pub const BLOCK: u32 = 2048;

/// Mirrors `LabelParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LabelParams {
    /// Mask width in pixels.
    pub w: u32,
    /// Mask height in pixels.
    pub h: u32,
    /// 1: 8-connectivity, 0: 4-connectivity.
    pub eight: u32,
    /// Blocks of `BLOCK` pixels: ceil(w · h / BLOCK).
    pub nblocks: u32,
}

impl LabelParams {
    /// Parameters for a `w × h` mask, 8- or 4-connected, with the block count filled in.
    pub fn new(w: u32, h: u32, eight: bool) -> Self {
        LabelParams {
            w,
            h,
            eight: eight as u32,
            nblocks: (w * h).div_ceil(BLOCK),
        }
    }
}

/// The labelling's pipelines, one per entry point, and their shared bind-group layout.
pub struct LabelComponents {
    /// One pipeline per entry point, in recording order (`ENTRIES`).
    pub stages: [wgpu::ComputePipeline; 9],
    /// The shared layout: mask (read), parent, blocks, list, labels (read-write), params (uniform).
    pub layout: wgpu::BindGroupLayout,
}

/// The entry points in recording order (the scan runs twice: on pixels, then roots).
const ENTRIES: [&str; 9] = [
    "count_on", "scan", "compact", "init", "merge", "flatten", "scan", "number", "relabel",
];

impl LabelComponents {
    /// Builds the nine pipelines and the layout on `device`.
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

    /// Records the nine passes in order (`scan` as one workgroup, the others one per block).
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
