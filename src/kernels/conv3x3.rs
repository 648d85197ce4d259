//! Wrapper of `shaders/conv3x3.wgsl`: 3×3 conv + bias + ReLU, one or two (concatenated) inputs.

use super::{Access, Variant, bind, div_ceil, grid_2d, layout, pipeline};

pub const SOURCE: &str = include_str!("../../shaders/conv3x3.wgsl");
pub const SOURCE_BLOCKS: &str = include_str!("../../shaders/conv3x3_blocks.wgsl");
pub const SOURCE_DIRECT: &str = include_str!("../../shaders/conv3x3_direct.wgsl");
pub const SOURCE_SUBGROUP: &str = include_str!("../../shaders/conv3x3_subgroup.wgsl");
/// Pixels along x and vec4 output groups written by one invocation (must match the shader).
pub const PX: u32 = 8;
pub const OB: u32 = 4;

/// A conv3x3-family WGSL module: the shared register blocks, the op's body (`SOURCE` here, or
/// conv3x3_grad_input's), and the variant's weight loading and entry point.
pub fn module_source(body: &str, variant: Variant) -> String {
    let tail = match variant {
        Variant::Direct => SOURCE_DIRECT,
        Variant::Subgroup => SOURCE_SUBGROUP,
    };
    format!("{SOURCE_BLOCKS}\n{body}\n{tail}")
}

/// The forward conv's module for a variant.
pub fn source(variant: Variant) -> String {
    module_source(SOURCE, variant)
}

/// Mirrors `Conv3x3Params` in the shader. Channel counts are in vec4 groups (`c4 = ceil(c/4)`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Conv3x3Params {
    pub n: u32,
    pub h: u32,
    pub w: u32,
    pub ca4: u32,
    pub cb4: u32,
    pub co4: u32,
    pub relu: u32,
    pub _pad: u32,
}

impl Conv3x3Params {
    /// Multiply-adds count 2 FLOPs; counted over the real (unpadded) channels `ci`, `co`.
    pub fn flops(&self, ci: usize, co: usize) -> u64 {
        2 * 9 * (self.n * self.h * self.w) as u64 * ci as u64 * co as u64
    }
    /// Minimal traffic: read the input(s) once, write the output once, read the weights once.
    pub fn bytes(&self) -> u64 {
        let px = (self.n * self.h * self.w) as u64;
        let cin4 = (self.ca4 + self.cb4) as u64;
        16 * (px * (cin4 + self.co4 as u64) + 9 * 4 * cin4 * self.co4 as u64 + self.co4 as u64)
    }
}

pub struct Conv3x3 {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub variant: Variant,
}

impl Conv3x3 {
    pub fn new(device: &wgpu::Device, variant: Variant) -> Self {
        use Access::*;
        let layout = layout(
            device,
            "conv3x3",
            &[Read, Read, Read, Read, ReadWrite, Uniform],
        );
        let pipeline = pipeline(device, "conv3x3", &source(variant), "main", &layout);
        Conv3x3 {
            pipeline,
            layout,
            variant,
        }
    }

    /// Binds the inputs `x_a`, `x_b` (pass `x_a` again for the single-input form), packed weights
    /// and bias, the output `y` and the uniform `params`.
    #[allow(clippy::too_many_arguments)]
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        x_a: &wgpu::Buffer,
        x_b: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        bias: &wgpu::Buffer,
        y: &wgpu::Buffer,
        params: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        bind(
            device,
            &self.layout,
            label,
            &[x_a, x_b, weight, bias, y, params],
        )
    }

    /// The dispatch grid for `p`.
    pub fn grid(p: &Conv3x3Params) -> [u32; 3] {
        let [x, y] = grid_2d(div_ceil(p.w, PX) * p.h);
        [x, y, p.n * div_ceil(p.co4, OB)]
    }

    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &Conv3x3Params) {
        let [x, y, z] = Self::grid(p);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }
}
