//! Wrapper of `shaders/maxpool2x2.wgsl`: 2×2 max-pooling, stride 2; and of its fused-engine form
//! on textures, `shaders/maxpool2x2_textures.wgsl`.

use super::{Access, Precision, bind, bind_at, div_ceil, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/maxpool2x2.wgsl");
pub const SOURCE_TEXTURES: &str = include_str!("../../shaders/maxpool2x2_textures.wgsl");

/// Mirrors `Maxpool2x2Params`: the input's n, h, w and vec4 channel groups.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Maxpool2x2Params {
    pub n: u32,
    pub h: u32,
    pub w: u32,
    pub c4: u32,
}

impl Maxpool2x2Params {
    /// Three comparisons per output element.
    pub fn flops(&self, c: usize) -> u64 {
        3 * (self.n * (self.h / 2) * (self.w / 2)) as u64 * c as u64
    }
    pub fn bytes(&self) -> u64 {
        16 * (self.n * self.h * self.w) as u64 * self.c4 as u64 * 5 / 4
    }
}

pub struct Maxpool2x2 {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Maxpool2x2 {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let layout = layout(device, "maxpool2x2", &[Read, ReadWrite, Uniform]);
        let pipeline = pipeline(device, "maxpool2x2", SOURCE, "main", &layout);
        Maxpool2x2 { pipeline, layout }
    }

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

    pub fn grid(p: &Maxpool2x2Params) -> [u32; 3] {
        [div_ceil(p.w / 2 * p.c4, 64), p.h / 2, p.n]
    }

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
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Maxpool2x2Textures {
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

    pub fn grid(p: &Maxpool2x2Params) -> [u32; 3] {
        [div_ceil(p.w / 2, 8), div_ceil(p.h / 2, 8), p.c4]
    }

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
