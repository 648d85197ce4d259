//! GPU kernels: one wrapper per shader in `shaders/`, each with its `#[repr(C)]` parameter struct,
//! its pipeline and explicit bind-group layout (built once, see [`Kernels`]), a `bind` that makes a
//! bind group, a `record` that adds one dispatch to a compute pass, and its FLOPs and minimal bytes.

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
pub use conv3x3::{Conv3x3, Conv3x3Params, Conv3x3Storage, FrameParams, HeadParams};
pub use conv3x3_grad_input::Conv3x3GradInput;
pub use conv3x3_grad_weight::{Conv3x3GradWeight, GradWeightParams};
pub use fir_filter::{FirFilter, FirFilterParams, FirTaps};
pub use flatfield::{FlatFieldKernel, FlatFieldParams};
pub use frame_stats::{FrameStats, FrameStatsParams};
pub use head1x1::{Head1x1, Head1x1Params};
pub use head1x1_grad::{Head1x1Grad, HeadGradParams};
pub use label_components::{LabelComponents, LabelParams};
pub use loss::{Loss, LossParams};
pub use mask_area_cut::{AreaCutParams, MaskAreaCut};
pub use maxpool2x2::{Maxpool2x2, Maxpool2x2Params, Maxpool2x2Textures};
pub use maxpool2x2_grad::{Maxpool2x2Grad, Maxpool2x2GradParams};
pub use normalize::{Normalize, NormalizeParams};
pub use threshold::{Threshold, ThresholdParams};
pub use upconv2x2::{Upconv2x2, Upconv2x2Params, Upconv2x2Storage};
pub use upconv2x2_grad::{UpGradWeightParams, Upconv2x2GradInput, Upconv2x2GradWeight};

/// Every WGSL file of the crate, by file name.
pub const SHADER_FILES: &[(&str, &str)] = &[
    ("adam.wgsl", adam::SOURCE),
    ("conv3x3_grad_weight.wgsl", conv3x3_grad_weight::SOURCE),
    ("head1x1_grad.wgsl", head1x1_grad::SOURCE),
    ("loss.wgsl", loss::SOURCE),
    ("maxpool2x2_grad.wgsl", maxpool2x2_grad::SOURCE),
    ("upconv2x2_grad_input.wgsl", upconv2x2_grad::SOURCE_INPUT),
    ("upconv2x2_grad_weight.wgsl", upconv2x2_grad::SOURCE_WEIGHT),
    ("conv3x3.wgsl", conv3x3::SOURCE),
    ("conv3x3_blocks.wgsl", conv3x3::SOURCE_BLOCKS),
    ("conv3x3_grad_input.wgsl", conv3x3_grad_input::SOURCE),
    ("conv3x3_direct.wgsl", conv3x3::SOURCE_DIRECT),
    ("conv3x3_subgroup.wgsl", conv3x3::SOURCE_SUBGROUP),
    (
        "conv3x3_weights_storage.wgsl",
        conv3x3::SOURCE_WEIGHTS_STORAGE,
    ),
    (
        "conv3x3_weights_uniform.wgsl",
        conv3x3::SOURCE_WEIGHTS_UNIFORM,
    ),
    ("conv3x3_buffers.wgsl", conv3x3::SOURCE_BUFFERS),
    ("conv3x3_textures.wgsl", conv3x3::SOURCE_TEXTURES),
    ("conv3x3_frame.wgsl", conv3x3::SOURCE_FRAME),
    ("conv3x3_texture_out.wgsl", conv3x3::SOURCE_TEXTURE_OUT),
    ("conv3x3_head1x1.wgsl", conv3x3::SOURCE_HEAD),
    ("conv3x3_head_prob_f32.wgsl", conv3x3::SOURCE_HEAD_PROB_F32),
    ("conv3x3_head_prob_f16.wgsl", conv3x3::SOURCE_HEAD_PROB_F16),
    ("conv3x3_head_prob_u8.wgsl", conv3x3::SOURCE_HEAD_PROB_U8),
    ("conv3x3_two_rows.wgsl", conv3x3::SOURCE_TWO_ROWS),
    ("conv3x3_two_rows_pool.wgsl", conv3x3::SOURCE_TWO_ROWS_POOL),
    (
        "conv3x3_two_rows_nopool.wgsl",
        conv3x3::SOURCE_TWO_ROWS_NOPOOL,
    ),
    ("maxpool2x2_textures.wgsl", maxpool2x2::SOURCE_TEXTURES),
    ("upconv2x2_buffers.wgsl", upconv2x2::SOURCE_BUFFERS),
    ("upconv2x2_textures.wgsl", upconv2x2::SOURCE_TEXTURES),
    ("fir_filter.wgsl", fir_filter::SOURCE),
    ("flatfield.wgsl", flatfield::SOURCE),
    ("frame_stats.wgsl", frame_stats::SOURCE),
    ("head1x1.wgsl", head1x1::SOURCE),
    ("maxpool2x2.wgsl", maxpool2x2::SOURCE),
    ("normalize.wgsl", normalize::SOURCE),
    ("frame_pixel.wgsl", normalize::SOURCE_FRAME_PIXEL),
    ("threshold.wgsl", threshold::SOURCE),
    ("label_components.wgsl", label_components::SOURCE),
    ("cluster_moments.wgsl", cluster_moments::SOURCE),
    ("mask_area_cut.wgsl", mask_area_cut::SOURCE),
    ("upconv2x2.wgsl", upconv2x2::SOURCE),
    ("upconv2x2_blocks.wgsl", upconv2x2::SOURCE_BLOCKS),
    ("upconv2x2_direct.wgsl", upconv2x2::SOURCE_DIRECT),
    ("upconv2x2_subgroup.wgsl", upconv2x2::SOURCE_SUBGROUP),
    (
        "upconv2x2_weights_storage.wgsl",
        upconv2x2::SOURCE_WEIGHTS_STORAGE,
    ),
    (
        "upconv2x2_weights_uniform.wgsl",
        upconv2x2::SOURCE_WEIGHTS_UNIFORM,
    ),
];

/// Every shader module the crate compiles, by name (the naga validation test checks each).
pub fn modules() -> Vec<(&'static str, String)> {
    vec![
        ("adam", adam::SOURCE.to_string()),
        (
            "conv3x3_grad_weight",
            conv3x3_grad_weight::SOURCE.to_string(),
        ),
        ("head1x1_grad", head1x1_grad::SOURCE.to_string()),
        ("loss", loss::SOURCE.to_string()),
        ("maxpool2x2_grad", maxpool2x2_grad::SOURCE.to_string()),
        (
            "upconv2x2_grad_input (direct)",
            upconv2x2::module_source(upconv2x2_grad::SOURCE_INPUT, Variant::Direct),
        ),
        (
            "upconv2x2_grad_input (subgroup)",
            upconv2x2::module_source(upconv2x2_grad::SOURCE_INPUT, Variant::Subgroup),
        ),
        (
            "upconv2x2_grad_weight",
            upconv2x2_grad::SOURCE_WEIGHT.to_string(),
        ),
        ("conv3x3 (direct)", conv3x3::source(Variant::Direct)),
        ("conv3x3 (subgroup)", conv3x3::source(Variant::Subgroup)),
        (
            "conv3x3 (textures, direct)",
            conv3x3::source_with(Variant::Direct, Conv3x3Storage::Textures),
        ),
        (
            "conv3x3 (textures, subgroup)",
            conv3x3::source_with(Variant::Subgroup, Conv3x3Storage::Textures),
        ),
        (
            "conv3x3 (textures, subgroup, uniform weights)",
            conv3x3::source_full(
                Variant::Subgroup,
                Conv3x3Storage::Textures,
                WeightsIn::Uniform,
            ),
        ),
        (
            "conv3x3 (frame, subgroup, uniform weights)",
            conv3x3::source_full(Variant::Subgroup, Conv3x3Storage::Frame, WeightsIn::Uniform),
        ),
        (
            "conv3x3 (head1x1, subgroup, uniform weights)",
            conv3x3::source_full(
                Variant::Subgroup,
                Conv3x3Storage::Head(ProbFormat::F32),
                WeightsIn::Uniform,
            ),
        ),
        (
            "conv3x3 (head1x1 f16 probabilities, subgroup, uniform weights)",
            conv3x3::source_full(
                Variant::Subgroup,
                Conv3x3Storage::Head(ProbFormat::F16),
                WeightsIn::Uniform,
            ),
        ),
        (
            "conv3x3 (head1x1 u8 probabilities, subgroup, uniform weights)",
            conv3x3::source_full(
                Variant::Subgroup,
                Conv3x3Storage::Head(ProbFormat::U8),
                WeightsIn::Uniform,
            ),
        ),
        (
            "conv3x3 (pool, subgroup, uniform weights)",
            conv3x3::source_full(Variant::Subgroup, Conv3x3Storage::Pool, WeightsIn::Uniform),
        ),
        (
            "conv3x3 (pool, direct)",
            conv3x3::source_with(Variant::Direct, Conv3x3Storage::Pool),
        ),
        (
            "conv3x3 (frame, subgroup)",
            conv3x3::source_with(Variant::Subgroup, Conv3x3Storage::Frame),
        ),
        (
            "conv3x3 (frame, direct)",
            conv3x3::source_with(Variant::Direct, Conv3x3Storage::Frame),
        ),
        (
            "conv3x3 (head1x1, subgroup)",
            conv3x3::source_with(Variant::Subgroup, Conv3x3Storage::Head(ProbFormat::F32)),
        ),
        (
            "conv3x3 (head1x1, direct)",
            conv3x3::source_with(Variant::Direct, Conv3x3Storage::Head(ProbFormat::U8)),
        ),
        (
            "maxpool2x2 (textures)",
            maxpool2x2::SOURCE_TEXTURES.to_string(),
        ),
        (
            "upconv2x2 (textures, direct)",
            upconv2x2::source_with(Variant::Direct, Upconv2x2Storage::Textures),
        ),
        (
            "upconv2x2 (textures, subgroup, uniform weights)",
            upconv2x2::source_full(
                Variant::Subgroup,
                Upconv2x2Storage::Textures,
                WeightsIn::Uniform,
            ),
        ),
        (
            "upconv2x2 (textures, subgroup)",
            upconv2x2::source_with(Variant::Subgroup, Upconv2x2Storage::Textures),
        ),
        (
            "conv3x3_grad_input (direct)",
            conv3x3::module_source(conv3x3_grad_input::SOURCE, Variant::Direct),
        ),
        (
            "conv3x3_grad_input (subgroup)",
            conv3x3::module_source(conv3x3_grad_input::SOURCE, Variant::Subgroup),
        ),
        ("fir_filter", fir_filter::source()),
        ("flatfield", flatfield::SOURCE.to_string()),
        ("frame_stats", frame_stats::SOURCE.to_string()),
        ("head1x1", head1x1::SOURCE.to_string()),
        ("maxpool2x2", maxpool2x2::SOURCE.to_string()),
        ("normalize", normalize::source()),
        ("threshold", threshold::SOURCE.to_string()),
        ("label_components", label_components::SOURCE.to_string()),
        ("cluster_moments", cluster_moments::SOURCE.to_string()),
        ("mask_area_cut", mask_area_cut::SOURCE.to_string()),
        ("upconv2x2 (direct)", upconv2x2::source(Variant::Direct)),
        ("upconv2x2 (subgroup)", upconv2x2::source(Variant::Subgroup)),
    ]
}

/// Where the weight-heavy kernels of the fused engine (conv3x3, upconv2x2) read their weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Bytes of a uniform weight window (the shaders' arrays; lavapipe's and many GPUs' limit).
pub const UNIFORM_WINDOW_BYTES: u64 = 65536;

/// How weight blocks reach the registers in kernels that come in two variants (conv3x3,
/// upconv2x2; see the header of `shaders/conv3x3.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Every invocation loads the blocks (`*_direct.wgsl`).
    Direct,
    /// Lanes 0..7 load them together and broadcast (`*_subgroup.wgsl`); needs subgroups of at
    /// least 8 lanes.
    Subgroup,
}

impl Variant {
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

/// All pipelines, compiled once per device.
pub struct Kernels {
    /// 3×3 conv on storage buffers, its variant chosen for the adapter.
    pub conv3x3: Conv3x3,
    /// 2×2 max-pool on storage buffers.
    pub maxpool2x2: Maxpool2x2,
    /// 2×2 stride-2 up-conv on storage buffers, its variant chosen for the adapter.
    pub upconv2x2: Upconv2x2,
    /// 1×1 head with sigmoid, cropped into the frame-sized map.
    pub head1x1: Head1x1,
    /// Frame normalisation into a reflect-padded input tile.
    pub normalize: Normalize,
    /// Histogram, mean, std and median of the raw frame.
    pub frame_stats: FrameStats,
    /// The classical pipeline's equalisation and FIR filter.
    pub fir_filter: FirFilter,
    /// Float map → packed 0/255 mask.
    pub threshold: Threshold,
    /// Fixed-pattern correction of the raw frame, in place.
    pub flatfield: FlatFieldKernel,
    /// Connected components of a mask, numbered in raster order.
    pub label_components: LabelComponents,
    /// Per-cluster sums of a labelling.
    pub cluster_moments: ClusterMoments,
    /// Clears the mask pixels of clusters outside an area range.
    pub mask_area_cut: MaskAreaCut,
}

impl Kernels {
    /// Builds every pipeline, choosing each kernel's variant for the adapter.
    pub fn new(device: &wgpu::Device, features: wgpu::Features, info: &wgpu::AdapterInfo) -> Self {
        Kernels {
            conv3x3: Conv3x3::new(device, Variant::choose(features, info)),
            maxpool2x2: Maxpool2x2::new(device),
            upconv2x2: Upconv2x2::new(device, Variant::choose(features, info)),
            head1x1: Head1x1::new(device),
            normalize: Normalize::new(device),
            frame_stats: FrameStats::new(device),
            fir_filter: FirFilter::new(device),
            threshold: Threshold::new(device),
            flatfield: FlatFieldKernel::new(device),
            label_components: LabelComponents::new(device),
            cluster_moments: ClusterMoments::new(device),
            mask_area_cut: MaskAreaCut::new(device),
        }
    }
}

/// The fused engine's pipelines (activations in textures), compiled once per device on first use.
pub struct FusedKernels {
    /// First conv: reads and normalises the raw frame.
    pub conv_frame: Conv3x3,
    /// Every other conv but the last.
    pub conv: Conv3x3,
    /// Last conv with the head epilogue, by probability format (built on first use).
    conv_head: [std::sync::OnceLock<Conv3x3>; 3],
    /// What `conv_head` needs to build a format's pipeline.
    device: wgpu::Device,
    variant: Variant,
    weights: WeightsIn,
    precision: Precision,
    /// Encoder conv2 with the 2×2 max-pool in its epilogue.
    pub conv_pool: Conv3x3,
    /// Where `conv` reads its weights from uniform windows: the same conv with storage weights,
    /// for convs with more input groups than a window holds.
    pub conv_wide: Option<Conv3x3>,
    /// The up-conv on textures (uniform-buffer weights with the subgroup variant, else storage).
    pub upconv2x2: Upconv2x2,
    /// As `conv_wide`, for up-convs whose weights do not fit one uniform buffer.
    pub upconv_wide: Option<Upconv2x2>,
    /// The 2×2 max-pool on textures, for encoder convs whose pool does not fuse (`pool_fuses`).
    pub maxpool2x2: Maxpool2x2Textures,
}

impl FusedKernels {
    /// The conv pipeline of a storage (the fused engine builds no buffer-storage conv) for a conv
    /// of `cin4` input groups. The first and last convs are narrow (1 and at most 4 input
    /// groups: the fused engine runs models up to 16 channels wide), so their windows always fit.
    pub fn conv_for(&self, storage: Conv3x3Storage, cin4: u32) -> &Conv3x3 {
        match storage {
            Conv3x3Storage::Frame => &self.conv_frame,
            Conv3x3Storage::Head(format) => self.conv_head[format as usize].get_or_init(|| {
                Conv3x3::fused_with(
                    &self.device,
                    self.variant,
                    storage,
                    self.precision,
                    self.weights,
                )
            }),
            Conv3x3Storage::Pool => &self.conv_pool,
            Conv3x3Storage::Textures | Conv3x3Storage::Buffers => match &self.conv_wide {
                Some(wide) if cin4 > conv3x3::UNIFORM_WINDOW_MAX_CIN4 => wide,
                _ => &self.conv,
            },
        }
    }

    /// Whether an encoder conv2 of `cin4` input groups can run with the pool in its epilogue
    /// (`conv_pool` has no storage-weight twin: wider ones run as conv, then pool).
    pub fn pool_fuses(&self, cin4: u32) -> bool {
        self.conv_pool.weights == WeightsIn::Storage || cin4 <= conv3x3::UNIFORM_WINDOW_MAX_CIN4
    }

    /// The up-conv pipeline for `ci4` input and `co4` output groups.
    pub fn upconv_for(&self, ci4: u32, co4: u32) -> &Upconv2x2 {
        match &self.upconv_wide {
            Some(wide) if !upconv2x2::fits_uniform(ci4, co4) => wide,
            _ => &self.upconv2x2,
        }
    }

    /// Builds the pipelines for the adapter's variant (uniform-window weights with the subgroup
    /// one) and `precision`; the head convs are built on first use.
    pub fn new(
        device: &wgpu::Device,
        features: wgpu::Features,
        info: &wgpu::AdapterInfo,
        precision: Precision,
    ) -> Self {
        let v = Variant::choose(features, info);
        // Where lanes load weights together (CPU adapters), they load them from uniform windows:
        // 1.5× faster on lavapipe, where a storage load is emulated lane by lane.
        let weights = match v {
            Variant::Subgroup => WeightsIn::Uniform,
            Variant::Direct => WeightsIn::Storage,
        };
        let conv = |storage, weights| Conv3x3::fused_with(device, v, storage, precision, weights);
        FusedKernels {
            conv_frame: conv(Conv3x3Storage::Frame, weights),
            conv: conv(Conv3x3Storage::Textures, weights),
            conv_head: Default::default(),
            device: device.clone(),
            variant: v,
            weights,
            precision,
            conv_pool: conv(Conv3x3Storage::Pool, weights),
            conv_wide: (weights == WeightsIn::Uniform)
                .then(|| conv(Conv3x3Storage::Textures, WeightsIn::Storage)),
            upconv2x2: Upconv2x2::fused(device, v, precision, weights),
            upconv_wide: (weights == WeightsIn::Uniform)
                .then(|| Upconv2x2::fused(device, v, precision, WeightsIn::Storage)),
            maxpool2x2: Maxpool2x2Textures::new(device, precision),
        }
    }
}

/// How a binding is accessed, in the shader's binding order.
#[derive(Clone, Copy)]
pub(crate) enum Access {
    Read,
    ReadWrite,
    Uniform,
    /// A `texture_2d_array<f32>` read with textureLoad (the fused engine's activations).
    Texture,
    /// A write-only `texture_storage_2d_array` of this format.
    StorageTexture(wgpu::TextureFormat),
}

/// An explicit bind-group layout for a compute shader whose bindings are 0..n in order.
pub(crate) fn layout(
    device: &wgpu::Device,
    label: &str,
    access: &[Access],
) -> wgpu::BindGroupLayout {
    let numbered: Vec<(u32, Access)> = access
        .iter()
        .enumerate()
        .map(|(i, a)| (i as u32, *a))
        .collect();
    layout_at(device, label, &numbered)
}

/// An explicit bind-group layout for the given (binding, access) pairs (storage files of the fused
/// engine leave some binding numbers unused).
pub(crate) fn layout_at(
    device: &wgpu::Device,
    label: &str,
    access: &[(u32, Access)],
) -> wgpu::BindGroupLayout {
    let entries: Vec<wgpu::BindGroupLayoutEntry> = access
        .iter()
        .map(|&(binding, a)| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: match a {
                Access::Uniform => wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                Access::Read | Access::ReadWrite => wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage {
                        read_only: matches!(a, Access::Read),
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                Access::Texture => wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2Array,
                    multisampled: false,
                },
                Access::StorageTexture(format) => wgpu::BindingType::StorageTexture {
                    access: wgpu::StorageTextureAccess::WriteOnly,
                    format,
                    view_dimension: wgpu::TextureViewDimension::D2Array,
                },
            },
            count: None,
        })
        .collect();
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &entries,
    })
}

/// How the fused engine stores activations: one texel holds 4 channels of one pixel. Arithmetic
/// is f32 either way; f16 storage rounds every stored activation to half precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
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

/// A bind group from (binding, resource) pairs.
pub(crate) fn bind_at(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    label: &str,
    entries: &[(u32, wgpu::BindingResource)],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = entries
        .iter()
        .map(|(binding, resource)| wgpu::BindGroupEntry {
            binding: *binding,
            resource: resource.clone(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

/// A compute pipeline for `entry` of `source` with the given layout.
pub(crate) fn pipeline(
    device: &wgpu::Device,
    label: &str,
    source: &str,
    entry: &str,
    layout: &wgpu::BindGroupLayout,
) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(layout)],
        immediate_size: 0,
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: Some(&pipeline_layout),
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// A bind group binding `buffers` whole, at bindings 0..n in order.
pub(crate) fn bind(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    label: &str,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
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
