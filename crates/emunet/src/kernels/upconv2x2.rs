//! Wrapper of `shaders/upconv2x2.wgsl`: transposed conv 2×2 stride 2 + bias.

use super::{
    Access, Precision, UNIFORM_WINDOW_BYTES, Variant, WeightsIn, bind, bind_at, div_ceil, grid_2d,
    layout_at, pipeline,
};

/// `shaders/upconv2x2.wgsl`: the forward up-conv's computation (2×2 stride-2 transposed + bias).
pub const SOURCE: &str = include_str!("../../shaders/upconv2x2.wgsl");
/// `shaders/upconv2x2_blocks.wgsl`: parameters and tap blocks shared with the input gradient.
pub const SOURCE_BLOCKS: &str = include_str!("../../shaders/upconv2x2_blocks.wgsl");
/// `shaders/upconv2x2_direct.wgsl`: entry point; every invocation loads its own tap blocks.
pub const SOURCE_DIRECT: &str = include_str!("../../shaders/upconv2x2_direct.wgsl");
/// `shaders/upconv2x2_subgroup.wgsl`: entry point; lanes 0..7 load the tap blocks and
/// broadcast them.
pub const SOURCE_SUBGROUP: &str = include_str!("../../shaders/upconv2x2_subgroup.wgsl");
/// `shaders/upconv2x2_buffers.wgsl`: activations in storage buffers (training, per-op engine).
pub const SOURCE_BUFFERS: &str = include_str!("../../shaders/upconv2x2_buffers.wgsl");
/// `shaders/upconv2x2_textures.wgsl`: the fused engine's texture array in, storage texture out.
pub const SOURCE_TEXTURES: &str = include_str!("../../shaders/upconv2x2_textures.wgsl");
/// `shaders/upconv2x2_weights_storage.wgsl`: the packed weight tensor in a storage buffer.
pub const SOURCE_WEIGHTS_STORAGE: &str =
    include_str!("../../shaders/upconv2x2_weights_storage.wgsl");
/// `shaders/upconv2x2_weights_uniform.wgsl`: the whole tensor in a 64 KiB uniform buffer.
pub const SOURCE_WEIGHTS_UNIFORM: &str =
    include_str!("../../shaders/upconv2x2_weights_uniform.wgsl");
/// Input pixels along x and vec4 output groups handled by one invocation (must match the shader).
pub const PX: u32 = 2;
/// Vec4 output groups handled by one invocation (must match the shader).
pub const OB: u32 = 4;

/// An upconv2x2-family WGSL module with storage weights: the shared declarations, the op's body
/// (`SOURCE` here, or the input gradient's) and the variant's weight loading and entry point.
pub fn module_source(body: &str, variant: Variant) -> String {
    module_source_with(body, WeightsIn::Storage, variant)
}

/// As `module_source`, with the weights where `weights` says.
pub fn module_source_with(body: &str, weights: WeightsIn, variant: Variant) -> String {
    let weights = match weights {
        WeightsIn::Storage => SOURCE_WEIGHTS_STORAGE,
        WeightsIn::Uniform => SOURCE_WEIGHTS_UNIFORM,
    };
    let tail = match variant {
        Variant::Direct => SOURCE_DIRECT,
        Variant::Subgroup => SOURCE_SUBGROUP,
    };
    format!("{SOURCE_BLOCKS}\n{body}\n{weights}\n{tail}")
}

/// Whether an up-conv's whole packed weight tensor fits one uniform buffer.
pub fn fits_uniform(ci4: u32, co4: u32) -> bool {
    (ci4 * co4 * 16 * 16) as u64 <= UNIFORM_WINDOW_BYTES
}

/// Where the forward up-conv's activations live: its storage file (see `shaders/upconv2x2.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upconv2x2Storage {
    /// Storage buffers in and out (training, the per-operation engine).
    Buffers,
    /// Fused engine: texture array in, storage texture array out.
    Textures,
}

/// The forward up-conv's module for a variant, activations in storage buffers.
pub fn source(variant: Variant) -> String {
    source_with(variant, Upconv2x2Storage::Buffers)
}

/// The forward up-conv's module for a variant and storage, storage weights.
pub fn source_with(variant: Variant, storage: Upconv2x2Storage) -> String {
    source_full(variant, storage, WeightsIn::Storage)
}

/// The forward up-conv's module for a variant, storage and weights location.
pub fn source_full(variant: Variant, storage: Upconv2x2Storage, weights: WeightsIn) -> String {
    let io = match storage {
        Upconv2x2Storage::Buffers => SOURCE_BUFFERS,
        Upconv2x2Storage::Textures => SOURCE_TEXTURES,
    };
    module_source_with(&format!("{SOURCE}\n{io}"), weights, variant)
}

/// Mirrors `Upconv2x2Params`: the input's n, h, w and the vec4 channel groups in and out.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Upconv2x2Params {
    /// Batch size (images).
    pub n: u32,
    /// Input height in pixels (the output has 2h rows).
    pub h: u32,
    /// Input width in pixels (the output has 2w columns).
    pub w: u32,
    /// Channel groups of 4 of the input (channels padded to a multiple of 4).
    pub ci4: u32,
    /// Channel groups of 4 of the output.
    pub co4: u32,
    /// Padding to the WGSL struct's size (a multiple of 16 bytes).
    pub _pad: [u32; 3],
}

impl Upconv2x2Params {
    /// Floating-point operations over the real channels `ci`, `co`: 4 taps, multiply-add = 2.
    pub fn flops(&self, ci: usize, co: usize) -> u64 {
        2 * 4 * (self.n * self.h * self.w) as u64 * ci as u64 * co as u64
    }
    /// Minimal bytes moved: the input read once, the 4× larger output written once, the weights
    /// read once.
    pub fn bytes(&self) -> u64 {
        let px = (self.n * self.h * self.w) as u64;
        16 * (px * (self.ci4 as u64 + 4 * self.co4 as u64)
            + 4 * 4 * self.ci4 as u64 * self.co4 as u64)
    }
}

/// A compiled up-conv: its pipeline, layout and the choices it was built with.
pub struct Upconv2x2 {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout: x, weight, bias, y, params (x and y textures in the fused form).
    pub layout: wgpu::BindGroupLayout,
    /// How tap blocks reach the registers (direct or subgroup).
    pub variant: Variant,
    /// Where the weights live: a storage buffer or one uniform buffer.
    pub weights: WeightsIn,
}

impl Upconv2x2 {
    /// The up-conv on storage buffers.
    pub fn new(device: &wgpu::Device, variant: Variant) -> Self {
        let storage = Upconv2x2Storage::Buffers;
        Self::build(device, variant, storage, Precision::F32, WeightsIn::Storage)
    }

    /// The fused engine's up-conv: textures, storage textures in `precision`'s format, weights
    /// where `weights` says (uniform: see `shaders/upconv2x2_weights_uniform.wgsl`).
    pub fn fused(
        device: &wgpu::Device,
        variant: Variant,
        precision: Precision,
        weights: WeightsIn,
    ) -> Self {
        Self::build(
            device,
            variant,
            Upconv2x2Storage::Textures,
            precision,
            weights,
        )
    }

    fn build(
        device: &wgpu::Device,
        variant: Variant,
        storage: Upconv2x2Storage,
        precision: Precision,
        weights: WeightsIn,
    ) -> Self {
        use Access::*;
        let (x, y) = match storage {
            Upconv2x2Storage::Buffers => (Read, ReadWrite),
            Upconv2x2Storage::Textures => (Texture, StorageTexture(precision.format())),
        };
        let w = match weights {
            WeightsIn::Storage => Read,
            WeightsIn::Uniform => Uniform,
        };
        let label = format!("upconv2x2 ({storage:?}, {precision:?}, {weights:?} weights)");
        let layout = layout_at(
            device,
            &label,
            &[(0, x), (1, w), (2, Read), (3, y), (4, Uniform)],
        );
        let source = precision.module(source_full(variant, storage, weights));
        let pipeline = pipeline(device, &label, &source, "main", &layout);
        Upconv2x2 {
            pipeline,
            layout,
            variant,
            weights,
        }
    }

    /// A bind group from (binding, resource) pairs (the texture storage).
    pub fn bind_resources(
        &self,
        device: &wgpu::Device,
        label: &str,
        entries: &[(u32, wgpu::BindingResource)],
    ) -> wgpu::BindGroup {
        bind_at(device, &self.layout, label, entries)
    }

    /// A bind group of the input `x`, packed `weight`, `bias`, the output `y` and the params.
    #[allow(clippy::too_many_arguments)]
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        x: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        bias: &wgpu::Buffer,
        y: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(device, &self.layout, label, &[x, weight, bias, y, params])
    }

    /// Workgroups per axis: `PX` input pixels per invocation; z = batch × blocks of `OB` groups.
    pub fn grid(p: &Upconv2x2Params) -> [u32; 3] {
        let [x, y] = grid_2d(div_ceil(p.w, PX) * p.h);
        [x, y, p.n * div_ceil(p.co4, OB)]
    }

    /// Records one dispatch of [`Self::grid`] into `pass`.
    pub fn record(
        &self,
        pass: &mut wgpu::ComputePass,
        group: &wgpu::BindGroup,
        p: &Upconv2x2Params,
    ) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}
