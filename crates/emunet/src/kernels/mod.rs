//! GPU kernels: one wrapper per shader in `shaders/`, each with its `#[repr(C)]` parameter struct
//! and a [`Kernel`] implementation (name, source, bindings, entry points and grid for each
//! configuration). [`Compiled`] gives every kernel its pipelines, bind-group layout, binding by
//! slice and `record`; the context's [`PipelineCache`] builds each (kernel, configuration) on
//! first use (`Context::kernel`). `docs/adding-a-kernel.md` walks through adding one.

pub mod adam;
pub mod cluster_moments;
pub mod conv3x3;
pub mod conv3x3_grad_input;
pub mod conv3x3_grad_weight;
pub mod fir_filter;
pub mod flatfield;
pub mod frame_stats;
pub mod head1x1;
pub mod head1x1_grad;
mod kernel;
pub mod label_components;
pub mod loss;
pub mod mask_area_cut;
pub mod maxpool2x2;
pub mod maxpool2x2_grad;
pub mod normalize;
pub mod threshold;
pub mod upconv2x2;
pub mod upconv2x2_grad;

pub use adam::{Adam, AdamParams};
pub use cluster_moments::{ClusterMoments, MomentsParams, WeightSource};
pub use conv3x3::{
    Conv3x3, Conv3x3Config, Conv3x3Params, Conv3x3Storage, Epilogue, FrameParams, HeadParams,
};
pub use conv3x3_grad_input::Conv3x3GradInput;
pub use conv3x3_grad_weight::{Conv3x3GradWeight, GradWeightParams};
pub use fir_filter::{FirFilter, FirFilterParams, FirTaps};
pub use flatfield::{FlatFieldKernel, FlatFieldParams};
pub use frame_stats::{FrameStats, FrameStatsParams};
pub use head1x1::{Head1x1, Head1x1Params};
pub use head1x1_grad::{Head1x1Grad, HeadGradParams};
pub(crate) use kernel::numbered;
pub use kernel::{Access, Compiled, Dispatch, Kernel, PipelineCache, Resource};
pub use label_components::{LabelComponents, LabelParams};
pub use loss::{Loss, LossParams};
pub use mask_area_cut::{AreaCutParams, MaskAreaCut};
pub use maxpool2x2::{Maxpool2x2, Maxpool2x2Params};
pub use maxpool2x2_grad::{Maxpool2x2Grad, Maxpool2x2GradParams};
pub use normalize::{Normalize, NormalizeParams};
pub use threshold::{Threshold, ThresholdParams};
pub use upconv2x2::{Upconv2x2, Upconv2x2Config, Upconv2x2Params};
pub use upconv2x2_grad::{UpGradWeightParams, Upconv2x2GradInput, Upconv2x2GradWeight};

/// One compiled form of a kernel as WGSL: what the naga, translation and layout tests check.
#[derive(Clone, Debug)]
pub struct Module {
    /// The kernel's name and configuration, e.g. `maxpool2x2 Textures(F16)`.
    pub name: String,
    /// The whole WGSL module.
    pub source: String,
    /// The (binding, access) pairs the wrapper declares for it.
    pub bindings: Vec<(u32, Access)>,
    /// Its entry points, in dispatch order.
    pub entries: &'static [&'static str],
}

/// Every form of `K` that the engine can build.
pub fn forms<K: Kernel>() -> Vec<Module> {
    K::configs()
        .into_iter()
        .map(|c| Module {
            name: format!("{} {c:?}", K::NAME),
            source: K::source(c),
            bindings: K::bindings(c),
            entries: K::ENTRIES,
        })
        .collect()
}

/// Every shader module the crate can compile: each kernel in each of its configurations.
pub fn modules() -> Vec<Module> {
    [
        forms::<Adam>(),
        forms::<ClusterMoments>(),
        forms::<Conv3x3>(),
        forms::<Conv3x3GradInput>(),
        forms::<Conv3x3GradWeight>(),
        forms::<FirFilter>(),
        forms::<FlatFieldKernel>(),
        forms::<FrameStats>(),
        forms::<Head1x1>(),
        forms::<Head1x1Grad>(),
        forms::<LabelComponents>(),
        forms::<Loss>(),
        forms::<MaskAreaCut>(),
        forms::<Maxpool2x2>(),
        forms::<Maxpool2x2Grad>(),
        forms::<Normalize>(),
        forms::<Threshold>(),
        forms::<Upconv2x2>(),
        forms::<Upconv2x2GradInput>(),
        forms::<Upconv2x2GradWeight>(),
    ]
    .concat()
}

/// Where a kernel's activations live (the kernels that come in both forms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Storage {
    /// Storage buffers (training, the per-operation engine).
    Buffers,
    /// Texture arrays in, storage texture arrays in this precision out (the fused engine).
    Textures(Precision),
}

impl Storage {
    /// Every storage.
    pub const ALL: [Storage; 3] = [
        Storage::Buffers,
        Storage::Textures(Precision::F32),
        Storage::Textures(Precision::F16),
    ];
}

/// Where the weight-heavy kernels of the fused engine (conv3x3, upconv2x2) read their weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightsIn {
    /// The whole packed tensor in a storage buffer.
    Storage,
    /// A 64 KiB uniform window of it (`*_weights_uniform.wgsl`): the fused engine on CPU adapters,
    /// with the subgroup variant, whose lanes load distinct columns and broadcast them (lavapipe
    /// turns every weight load into gathers; a uniform one costs ~10× less than a storage one).
    /// conv3x3: one dispatch per window of output blocks, batch 1, at most
    /// `conv3x3::UNIFORM_WINDOW_MAX_CIN4` input groups; upconv2x2: the whole tensor in one window
    /// (`upconv2x2::fits_uniform`).
    Uniform,
}

impl WeightsIn {
    /// Both places.
    pub const ALL: [WeightsIn; 2] = [WeightsIn::Storage, WeightsIn::Uniform];

    /// The weights' binding.
    pub fn access(self) -> Access {
        match self {
            WeightsIn::Storage => Access::Read,
            WeightsIn::Uniform => Access::Uniform,
        }
    }

    /// Whether a kernel can read its weights here: uniform windows are the fused engine's, with
    /// the subgroup variant.
    pub fn allowed(self, variant: Variant, storage: Storage) -> bool {
        match self {
            WeightsIn::Storage => true,
            WeightsIn::Uniform => {
                variant == Variant::Subgroup && matches!(storage, Storage::Textures(_))
            }
        }
    }
}

/// Every (variant, weights location) a weight-heavy kernel of `storage` can be built with, for
/// `Kernel::configs`.
pub fn weight_forms(storage: Storage) -> impl Iterator<Item = (Variant, WeightsIn)> {
    Variant::ALL.into_iter().flat_map(move |variant| {
        WeightsIn::ALL
            .into_iter()
            .filter(move |w| w.allowed(variant, storage))
            .map(move |weights| (variant, weights))
    })
}

/// Bytes of a uniform weight window (the shaders' arrays; lavapipe's and many GPUs' limit).
pub const UNIFORM_WINDOW_BYTES: u64 = 65536;

/// How weight blocks reach the registers in kernels that come in two variants (conv3x3,
/// upconv2x2; see the header of `shaders/conv3x3.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Every invocation loads the blocks (`*_direct.wgsl`).
    Direct,
    /// Lanes 0..7 load them together and broadcast (`*_subgroup.wgsl`); needs subgroups of at
    /// least 8 lanes.
    Subgroup,
}

impl Variant {
    /// Both variants.
    pub const ALL: [Variant; 2] = [Variant::Direct, Variant::Subgroup];

    /// Whether the adapter can run this variant.
    pub fn supported(self, features: wgpu::Features, info: &wgpu::AdapterInfo) -> bool {
        match self {
            Variant::Direct => true,
            Variant::Subgroup => {
                features.contains(wgpu::Features::SUBGROUP) && info.subgroup_min_size >= 8
            }
        }
    }

    /// The default for an adapter: the subgroup variant on CPU adapters (lavapipe), where it is
    /// several times faster, the direct one elsewhere; `EMUNET_VARIANT=direct|subgroup` overrides.
    pub fn choose(features: wgpu::Features, info: &wgpu::AdapterInfo) -> Self {
        let wanted = match std::env::var("EMUNET_VARIANT").as_deref() {
            Ok("direct") => Some(Variant::Direct),
            Ok("subgroup") => Some(Variant::Subgroup),
            _ => None,
        };
        match wanted {
            Some(v) if v.supported(features, info) => v,
            _ if info.device_type == wgpu::DeviceType::Cpu
                && Variant::Subgroup.supported(features, info) =>
            {
                Variant::Subgroup
            }
            _ => Variant::Direct,
        }
    }
}

/// How the fused engine stores activations: one texel holds 4 channels of one pixel. Arithmetic
/// is f32 either way; f16 storage rounds every stored activation to half precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// f32 storage (the default: the accuracy reports were measured with it).
    #[default]
    F32,
    /// f16 storage, f32 arithmetic: half the activation traffic.
    F16,
}

crate::choice!(Precision {
    F32 => "f32",
    F16 => "f16",
});

impl Precision {
    /// The activation textures' format.
    pub fn format(self) -> wgpu::TextureFormat {
        match self {
            Precision::F32 => wgpu::TextureFormat::Rgba32Float,
            Precision::F16 => wgpu::TextureFormat::Rgba16Float,
        }
    }

    /// A fused-engine module with its storage textures in this precision's format (the WGSL files
    /// are written for rgba32float; the f16 modules are the same text with that one type
    /// parameter changed, and the naga test validates both).
    pub fn module(self, source: String) -> String {
        match self {
            Precision::F32 => source,
            Precision::F16 => source.replace("rgba32float, write", "rgba16float, write"),
        }
    }
}

/// How the probability map comes back from the GPU (the caller's choice): the fused engine's last
/// conv writes it in this format (`conv3x3_head_prob_*.wgsl`) beside the mask, which it decides
/// on the f32 probability; the per-operation engine writes f32 and the host rounds it to the same
/// grid after taking the mask, so callers see this format's values whichever engine ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ProbFormat {
    /// f32, 4 bytes a pixel (the default).
    #[default]
    F32,
    /// IEEE half precision (round to nearest), 2 bytes a pixel: |Δp| ≤ 2⁻¹² for p ≤ 1.
    F16,
    /// round(255·p), 1 byte a pixel: |Δp| ≤ 1/510.
    U8,
}

crate::choice!(ProbFormat {
    F32 => "f32",
    F16 => "f16",
    U8 => "u8",
});

impl ProbFormat {
    /// The WGSL file defining `store_prob` for this format.
    pub fn source(self) -> &'static str {
        match self {
            ProbFormat::F32 => conv3x3::SOURCE_HEAD_PROB_F32,
            ProbFormat::F16 => conv3x3::SOURCE_HEAD_PROB_F16,
            ProbFormat::U8 => conv3x3::SOURCE_HEAD_PROB_U8,
        }
    }

    /// Bytes of a map of `pixels` probabilities in this format (whole 4-byte words).
    pub fn bytes(self, pixels: usize) -> u64 {
        let per_word = match self {
            ProbFormat::F32 => 1,
            ProbFormat::F16 => 2,
            ProbFormat::U8 => 4,
        };
        pixels.div_ceil(per_word) as u64 * 4
    }

    /// `p` rounded to this format's grid and back (what the GPU's store and [`Self::decode`] give,
    /// up to the GPU's rounding of ties).
    pub fn quantize(self, p: f32) -> f32 {
        match self {
            ProbFormat::F32 => p,
            ProbFormat::F16 => half::f16::from_f32(p).to_f32(),
            ProbFormat::U8 => ((p.clamp(0.0, 1.0) * 255.0 + 0.5) as u32).min(255) as f32 / 255.0,
        }
    }

    /// The first `pixels` probabilities of a map in this format, as f32.
    pub fn decode(self, bytes: &[u8], pixels: usize) -> Vec<f32> {
        match self {
            ProbFormat::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(&bytes[..pixels * 4]),
            ProbFormat::F16 => bytes
                .chunks_exact(2)
                .take(pixels)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            ProbFormat::U8 => bytes[..pixels].iter().map(|&q| q as f32 / 255.0).collect(),
        }
    }
}

/// ceil(a / b)
pub(crate) fn div_ceil(a: u32, b: u32) -> u32 {
    a.div_ceil(b)
}

/// The (x, y) workgroup counts covering `blocks` work items in workgroups of 64, with x capped
/// so neither count exceeds the 65535 every adapter allows (shaders flatten `wid.y·nwg.x + wid.x`).
pub(crate) fn grid_2d(blocks: u32) -> [u32; 2] {
    let groups = blocks.div_ceil(64).max(1);
    let x = groups.min(32768);
    [x, groups.div_ceil(x)]
}
