//! Wrapper of `shaders/upconv2x2.wgsl`: transposed conv 2×2 stride 2 + bias.

use super::{
    Access, Kernel, Storage, UNIFORM_WINDOW_BYTES, Variant, WeightsIn, div_ceil, grid_2d, numbered,
    weight_forms,
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
/// Input pixels along x handled by one invocation (written into `upconv2x2*.wgsl`'s indexing).
pub const PX: u32 = 2;
/// Vec4 output groups handled by one invocation (written into `upconv2x2*.wgsl`'s indexing).
pub const OB: u32 = 4;

/// An upconv2x2-family WGSL module: the shared declarations, the op's body (`SOURCE` here, or
/// the input gradient's), the weights where `weights` says, and the variant's entry point.
pub fn module_source(body: &str, weights: WeightsIn, variant: Variant) -> String {
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

/// What selects one compiled up-conv.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Upconv2x2Config {
    /// How tap blocks reach the registers.
    pub variant: Variant,
    /// Where the activations live (selects the storage file and its bindings).
    pub storage: Storage,
    /// Where the weights live (uniform: the subgroup variant, tensors that [`fits_uniform`]).
    pub weights: WeightsIn,
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

impl Upconv2x2Config {
    /// The up-conv on storage buffers with storage weights (training, the per-operation engine),
    /// as [`crate::kernels::Conv3x3Config::buffers`].
    pub fn buffers(variant: Variant) -> Self {
        Upconv2x2Config {
            variant,
            storage: Storage::Buffers,
            weights: WeightsIn::Storage,
        }
    }
}

/// The 2×2 stride-2 transposed conv + bias: bindings x (read | texture), weight (read |
/// uniform), bias (read), y (read-write | storage texture), params (uniform).
pub struct Upconv2x2;

impl Kernel for Upconv2x2 {
    type Config = Upconv2x2Config;
    type Params = Upconv2x2Params;
    const NAME: &'static str = "upconv2x2";

    fn source(c: Upconv2x2Config) -> String {
        match c.storage {
            Storage::Buffers => {
                module_source(&format!("{SOURCE}\n{SOURCE_BUFFERS}"), c.weights, c.variant)
            }
            Storage::Textures(precision) => precision.module(module_source(
                &format!("{SOURCE}\n{SOURCE_TEXTURES}"),
                c.weights,
                c.variant,
            )),
        }
    }

    fn bindings(c: Upconv2x2Config) -> Vec<(u32, Access)> {
        use Access::*;
        let (x, y) = match c.storage {
            Storage::Buffers => (Read, ReadWrite),
            Storage::Textures(precision) => (Texture, StorageTexture(precision.format())),
        };
        numbered(&[x, c.weights.access(), Read, y, Uniform])
    }

    fn grid(_: Upconv2x2Config, p: &Upconv2x2Params) -> Vec<[u32; 3]> {
        let [x, y] = grid_2d(div_ceil(p.w, PX) * p.h);
        vec![[x, y, p.n * div_ceil(p.co4, OB)]]
    }

    fn configs() -> Vec<Upconv2x2Config> {
        let forms = |storage| {
            weight_forms(storage).map(move |(variant, weights)| Upconv2x2Config {
                variant,
                storage,
                weights,
            })
        };
        Storage::ALL.into_iter().flat_map(forms).collect()
    }
}
