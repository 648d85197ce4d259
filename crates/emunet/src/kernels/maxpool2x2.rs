//! Wrapper of `shaders/maxpool2x2.wgsl`: 2×2 max-pooling, stride 2; and of its fused-engine form
//! on textures, `shaders/maxpool2x2_textures.wgsl`.

use super::{Access, Precision, bind, bind_at, div_ceil, layout, pipeline};

/// `shaders/maxpool2x2.wgsl`: 2×2 max-pooling, stride 2, on storage buffers.
pub const SOURCE: &str = include_str!("../../shaders/maxpool2x2.wgsl");
/// `shaders/maxpool2x2_textures.wgsl`: the fused engine's form, texture array to storage
/// texture array.
pub const SOURCE_TEXTURES: &str = include_str!("../../shaders/maxpool2x2_textures.wgsl");

/// Mirrors `Maxpool2x2Params`: the input's n, h, w and vec4 channel groups.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Maxpool2x2Params {
    /// Batch size (images).
    pub n: u32,
    /// Input height in pixels (even).
    pub h: u32,
    /// Input width in pixels (even).
    pub w: u32,
    /// Channel groups of 4 (channels padded to a multiple of 4).
    pub c4: u32,
}

impl Maxpool2x2Params {
    /// Three comparisons per output element.
    pub fn flops(&self, c: usize) -> u64 {
        3 * (self.n * (self.h / 2) * (self.w / 2)) as u64 * c as u64
    }
    /// Minimal bytes moved: the input read once, the quarter-size output written once.
    pub fn bytes(&self) -> u64 {
        16 * (self.n * self.h * self.w) as u64 * self.c4 as u64 * 5 / 4
    }
}

/// The max-pool on storage buffers: its pipeline and bind-group layout.
pub struct Maxpool2x2 {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: x (read), y (read-write), params (uniform).
    pub layout: wgpu::BindGroupLayout,
}

impl Maxpool2x2 {
    /// Builds the pipeline and layout on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "maxpool2x2", &[Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "maxpool2x2", SOURCE, "main", &layout);
        Maxpool2x2 { pipeline, layout }
    }

    /// A bind group of the input `x`, the output `y` and the params.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        x: &wgpu::Buffer,
        y: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &[x, y, params])
    }

    /// Workgroups per axis: (ceil(W/2 · c4 / 64), H/2, N), one invocation per output vec4.
    pub fn grid(p: &Maxpool2x2Params) -> [u32; 3] {
        [div_ceil(p.w / 2 * p.c4, 64), p.h / 2, p.n]
    }

    /// Records one dispatch of [`Self::grid`] into `pass`.
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &Maxpool2x2Params,
    ) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}

/// `maxpool2x2_textures.wgsl`: the same pooling from a texture array to a storage texture array.
pub struct Maxpool2x2Textures {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: x (texture), y (storage texture), params (uniform).
    pub layout: wgpu::BindGroupLayout,
}

impl Maxpool2x2Textures {
    /// Builds the pipeline and layout on `device`, storage textures in `precision`'s format.
    pub fn new(device: &wgpu::Device, precision: Precision) -> Self {
        use Access::*;
        let label = format!("maxpool2x2 (Textures, {precision:?})");
        let layout = layout(
            device,
            &label,
            &[Texture, StorageTexture(precision.format()), Uniform],
        );
        let source = precision.module(SOURCE_TEXTURES.to_string());
        let pipeline = pipeline(device, &label, &source, "main", &layout);
        Maxpool2x2Textures { pipeline, layout }
    }

    /// A bind group of the input view `x`, the output view `y` and the params.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        x: &wgpu::TextureView,
        y: &wgpu::TextureView,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind_at(
            device,
            &self.layout,
            label,
            &[
                (0, wgpu::BindingResource::TextureView(x)),
                (1, wgpu::BindingResource::TextureView(y)),
                (2, params.as_entire_binding()),
            ],
        )
    }

    /// Workgroups per axis: 8×8 groups over the output pixels, one channel group (layer) per z.
    pub fn grid(p: &Maxpool2x2Params) -> [u32; 3] {
        [div_ceil(p.w / 2, 8), div_ceil(p.h / 2, 8), p.c4]
    }

    /// Records one dispatch of [`Self::grid`] into `pass`.
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &Maxpool2x2Params,
    ) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}
