//! Wrapper of `shaders/maxpool2x2.wgsl`: 2×2 max-pooling, stride 2; and of its fused-engine form
//! on textures, `shaders/maxpool2x2_textures.wgsl`.

use super::{Access, Kernel, Storage, div_ceil, numbered};

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

/// 2×2 max-pooling on storage buffers (one invocation per output vec4) or, for the fused engine,
/// from a texture array to a storage texture array (8×8 output pixels a workgroup, one channel
/// group per z). Bindings x (read | texture), y (read-write | storage texture), params (uniform).
pub struct Maxpool2x2;

impl Kernel for Maxpool2x2 {
    type Config = Storage;
    type Params = Maxpool2x2Params;
    const NAME: &'static str = "maxpool2x2";

    fn source(storage: Storage) -> String {
        match storage {
            Storage::Buffers => SOURCE.to_string(),
            Storage::Textures(precision) => precision.module(SOURCE_TEXTURES.to_string()),
        }
    }

    fn bindings(storage: Storage) -> Vec<(u32, Access)> {
        use Access::*;
        match storage {
            Storage::Buffers => numbered(&[Read, ReadWrite, Uniform]),
            Storage::Textures(precision) => {
                numbered(&[Texture, StorageTexture(precision.format()), Uniform])
            }
        }
    }

    fn grid(storage: Storage, p: &Maxpool2x2Params) -> Vec<[u32; 3]> {
        vec![match storage {
            Storage::Buffers => [div_ceil(p.w / 2 * p.c4, 64), p.h / 2, p.n],
            Storage::Textures(_) => [div_ceil(p.w / 2, 8), div_ceil(p.h / 2, 8), p.c4],
        }]
    }

    fn configs() -> Vec<Storage> {
        Storage::ALL.to_vec()
    }
}
