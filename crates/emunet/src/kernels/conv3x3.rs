//! Wrapper of `shaders/conv3x3.wgsl`: 3×3 conv + bias + ReLU, one or two (concatenated) inputs,
//! with its activations in storage buffers or, for the fused engine, in textures (the storage
//! files `conv3x3_{buffers,textures,frame,head1x1}.wgsl`).

use super::{
    Access, Kernel, Precision, Storage, UNIFORM_WINDOW_BYTES, Variant, WeightsIn, div_ceil,
    grid_2d, numbered, weight_forms,
};

/// `shaders/conv3x3.wgsl`: the forward conv's computation (3×3, bias, ReLU), one or two inputs.
pub const SOURCE: &str = include_str!("../../shaders/conv3x3.wgsl");
/// `shaders/conv3x3_blocks.wgsl`: parameters and register blocks shared with the input gradient.
pub const SOURCE_BLOCKS: &str = include_str!("../../shaders/conv3x3_blocks.wgsl");
/// `shaders/conv3x3_direct.wgsl`: entry point; every invocation loads its own weight blocks.
pub const SOURCE_DIRECT: &str = include_str!("../../shaders/conv3x3_direct.wgsl");
/// `shaders/conv3x3_subgroup.wgsl`: entry point; lanes 0..7 load the weight blocks and
/// broadcast them.
pub const SOURCE_SUBGROUP: &str = include_str!("../../shaders/conv3x3_subgroup.wgsl");
/// `shaders/conv3x3_weights_storage.wgsl`: the whole packed weight tensor in a storage buffer.
pub const SOURCE_WEIGHTS_STORAGE: &str = include_str!("../../shaders/conv3x3_weights_storage.wgsl");
/// `shaders/conv3x3_weights_uniform.wgsl`: the weights in a 64 KiB uniform window, one dispatch
/// per window.
pub const SOURCE_WEIGHTS_UNIFORM: &str = include_str!("../../shaders/conv3x3_weights_uniform.wgsl");
/// `shaders/conv3x3_buffers.wgsl`: activations in storage buffers (training, per-operation engine).
pub const SOURCE_BUFFERS: &str = include_str!("../../shaders/conv3x3_buffers.wgsl");
/// `shaders/conv3x3_textures.wgsl`: the fused engine's input, a texture array (`load_input`).
pub const SOURCE_TEXTURES: &str = include_str!("../../shaders/conv3x3_textures.wgsl");
/// `shaders/conv3x3_two_rows.wgsl`: the fused texture-to-texture body, 4-pixel × 2-row blocks.
pub const SOURCE_TWO_ROWS: &str = include_str!("../../shaders/conv3x3_two_rows.wgsl");
/// `shaders/conv3x3_two_rows_pool.wgsl`: the encoder conv2's epilogue writing its 2×2 max-pool.
pub const SOURCE_TWO_ROWS_POOL: &str = include_str!("../../shaders/conv3x3_two_rows_pool.wgsl");
/// `shaders/conv3x3_two_rows_nopool.wgsl`: an empty `pool_block`, for every other texture conv.
pub const SOURCE_TWO_ROWS_NOPOOL: &str = include_str!("../../shaders/conv3x3_two_rows_nopool.wgsl");
/// `shaders/conv3x3_frame.wgsl`: the first fused conv's input, the raw frame, normalised on load.
pub const SOURCE_FRAME: &str = include_str!("../../shaders/conv3x3_frame.wgsl");
/// `shaders/conv3x3_texture_out.wgsl`: the first fused conv's output: ReLU, then texel stores.
pub const SOURCE_TEXTURE_OUT: &str = include_str!("../../shaders/conv3x3_texture_out.wgsl");
/// `shaders/conv3x3_head1x1.wgsl`: the last fused conv's epilogue: ReLU, 1×1 head, sigmoid, the
/// probability map and the mask.
pub const SOURCE_HEAD: &str = include_str!("../../shaders/conv3x3_head1x1.wgsl");
/// `shaders/conv3x3_head_prob_f32.wgsl`: `store_prob` writing one f32 per pixel.
pub const SOURCE_HEAD_PROB_F32: &str = include_str!("../../shaders/conv3x3_head_prob_f32.wgsl");
/// `shaders/conv3x3_head_prob_f16.wgsl`: `store_prob` packing two f16 per word.
pub const SOURCE_HEAD_PROB_F16: &str = include_str!("../../shaders/conv3x3_head_prob_f16.wgsl");
/// `shaders/conv3x3_head_prob_u8.wgsl`: `store_prob` packing four round(255·p) bytes per word.
pub const SOURCE_HEAD_PROB_U8: &str = include_str!("../../shaders/conv3x3_head_prob_u8.wgsl");
/// Pixels along x written by one invocation (`PX`; tests/host/layouts.rs checks the shader's).
pub const PX: u32 = 8;
/// Vec4 output groups written by one invocation (`OB`; tests/host/layouts.rs checks the shader's).
pub const OB: u32 = 4;
/// Pixels along x of the 2-row block of `conv3x3_two_rows.wgsl` (`PW`; tests/host/layouts.rs
/// checks the shader's).
pub const PW: u32 = 4;

/// The most input groups whose weights for one block of OB output groups fit a window.
pub const UNIFORM_WINDOW_MAX_CIN4: u32 = window_blocks(1);

/// Whole blocks of OB output groups whose weights fit one uniform window (0: none do).
pub const fn window_blocks(cin4: u32) -> u32 {
    let cin4 = if cin4 == 0 { 1 } else { cin4 };
    (UNIFORM_WINDOW_BYTES / 16) as u32 / (36 * OB * cin4)
}

/// Byte offset, in the packed weights, of output block `ob`'s weights (a multiple of 256, the
/// uniform offset alignment, since one block's weights are cin4 · 2304 bytes).
pub fn window_offset(ob: u32, cin4: u32) -> u64 {
    ob as u64 * (OB * cin4 * 36 * 16) as u64
}

/// A conv3x3-family WGSL module: the shared register blocks, the op's body (`SOURCE` here, or
/// conv3x3_grad_input's), the weights where `weights` says, and the variant's entry point.
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

/// Where a conv3x3 module's activations live: its storage file (see `shaders/conv3x3.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Conv3x3Storage {
    /// Storage buffers in and out (training, the per-operation engine).
    Buffers,
    /// Fused engine's first conv: the raw frame words in (normalised in the load), a storage
    /// texture array in this precision out.
    Frame(Precision),
    /// Fused engine: a texture array in, and what the epilogue writes out (storage textures in
    /// this precision).
    Textures(Precision, Epilogue),
}

/// What a fused texture conv writes after bias and ReLU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Epilogue {
    /// The activations, to a storage texture array (the 4 × 2-pixel body,
    /// `conv3x3_two_rows.wgsl`).
    Store,
    /// As `Store`, and their 2×2 max-pool into a second storage texture array (binding 8,
    /// `conv3x3_two_rows_pool.wgsl`): the encoder's conv2.
    Pool,
    /// The 1×1 head, sigmoid and threshold: the probability map in this format and the mask
    /// (`conv3x3_head1x1.wgsl`): the last conv.
    Head(super::ProbFormat),
}

impl Epilogue {
    /// Every epilogue.
    pub const ALL: [Epilogue; 5] = [
        Epilogue::Store,
        Epilogue::Pool,
        Epilogue::Head(super::ProbFormat::F32),
        Epilogue::Head(super::ProbFormat::F16),
        Epilogue::Head(super::ProbFormat::U8),
    ];
}

/// What selects one compiled conv.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv3x3Config {
    /// How weight blocks reach the registers.
    pub variant: Variant,
    /// Where the activations live, and the epilogue of texture convs.
    pub storage: Conv3x3Storage,
    /// Where the weights live: a storage buffer or uniform windows (changes the grid; uniform
    /// windows need the subgroup variant and batch 1: see [`WeightsIn::Uniform`]).
    pub weights: WeightsIn,
}

impl Conv3x3Config {
    /// The conv on storage buffers with storage weights (training, the per-operation engine).
    pub fn buffers(variant: Variant) -> Self {
        Conv3x3Config {
            variant,
            storage: Conv3x3Storage::Buffers,
            weights: WeightsIn::Storage,
        }
    }

    /// Whether the module is the 4 × 2-pixel texture body (`conv3x3_two_rows.wgsl`).
    fn two_rows(self) -> bool {
        matches!(
            self.storage,
            Conv3x3Storage::Textures(_, Epilogue::Store | Epilogue::Pool)
        )
    }
}

/// Mirrors `HeadParams` in `conv3x3_head1x1.wgsl`: the head's weights by channel group (zero
/// past C), its bias, the frame size the probability map is cropped to and the mask's threshold.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct HeadParams {
    /// The head's 1×1 weights, one vec4 per channel group (zero past the model's channels).
    pub weight: [[f32; 4]; 4],
    /// The head's bias, added to the logit.
    pub bias: f32,
    /// Frame height in pixels: rows of the padded output past it are cropped.
    pub out_h: u32,
    /// Frame width in pixels: the maps' row length; columns past it are cropped.
    pub out_w: u32,
    /// Mask threshold: a pixel is on when its f32 probability is ≥ this.
    pub threshold: f32,
}

/// Mirrors `FrameParams` in `conv3x3_frame.wgsl`: the frame's own size, bits, normalisation mode
/// and the 8 statistics of frame_stats.wgsl (copied in on the GPU at offset 16).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FrameParams {
    /// The frame's own height in pixels (before padding).
    pub h: u32,
    /// The frame's own width in pixels (before padding).
    pub w: u32,
    /// Bits per raw pixel (8 or 16).
    pub bits: u32,
    /// Normalisation: 0 z-score, 1 median (as `NormalizeParams::mode_of`).
    pub mode: u32,
    /// frame_stats.wgsl's 8 statistics: mean_p, 1/(std_p + 1e-6), std_p, count, median, …
    pub stats: [f32; 8],
}

impl FrameParams {
    /// Byte offset of `stats`, where the frame statistics are copied.
    pub const STATS_OFFSET: u64 = 16;
}

/// Mirrors `Conv3x3Params` in the shader. Channel counts are in vec4 groups (`c4 = ceil(c/4)`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Conv3x3Params {
    /// Batch size (images).
    pub n: u32,
    /// Height in pixels of the input and of the output.
    pub h: u32,
    /// Width in pixels of the input and of the output.
    pub w: u32,
    /// Channel groups of 4 of the first input `x_a` (channels padded to a multiple of 4).
    pub ca4: u32,
    /// Channel groups of 4 of the second input `x_b`; 0 for the single-input form.
    pub cb4: u32,
    /// Channel groups of 4 of the output.
    pub co4: u32,
    /// 1: apply ReLU to the output; 0: bias only.
    pub relu: u32,
    /// First block of OB output groups the dispatch computes (0 but for uniform weight windows).
    pub ob_first: u32,
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

/// The 3×3 conv + bias + ReLU, one or two (concatenated) inputs: bindings by storage (see
/// `shaders/conv3x3_*.wgsl`): buffers x_a, x_b, weight, bias (read), y (read-write), params;
/// textures x (0), weight (2), bias (3), y (4), params (5), and the frame's params (7), the pool's
/// output (8) or the head's params (6) and mask (9).
pub struct Conv3x3;

impl Kernel for Conv3x3 {
    type Config = Conv3x3Config;
    type Params = Conv3x3Params;
    const NAME: &'static str = "conv3x3";

    fn source(c: Conv3x3Config) -> String {
        let body = if c.two_rows() {
            SOURCE_TWO_ROWS
        } else {
            SOURCE
        };
        let io = match c.storage {
            Conv3x3Storage::Buffers => SOURCE_BUFFERS.to_string(),
            Conv3x3Storage::Frame(_) => format!(
                "{}\n{SOURCE_FRAME}\n{SOURCE_TEXTURE_OUT}",
                super::normalize::SOURCE_FRAME_PIXEL
            ),
            Conv3x3Storage::Textures(_, Epilogue::Store) => {
                format!("{SOURCE_TEXTURES}\n{SOURCE_TWO_ROWS_NOPOOL}")
            }
            Conv3x3Storage::Textures(_, Epilogue::Pool) => {
                format!("{SOURCE_TEXTURES}\n{SOURCE_TWO_ROWS_POOL}")
            }
            Conv3x3Storage::Textures(_, Epilogue::Head(prob)) => {
                format!("{SOURCE_TEXTURES}\n{}\n{SOURCE_HEAD}", prob.source())
            }
        };
        let module = module_source(&format!("{body}\n{io}"), c.weights, c.variant);
        match c.storage {
            Conv3x3Storage::Buffers => module,
            Conv3x3Storage::Frame(precision) | Conv3x3Storage::Textures(precision, _) => {
                precision.module(module)
            }
        }
    }

    fn bindings(c: Conv3x3Config) -> Vec<(u32, Access)> {
        use Access::{Read, ReadWrite, StorageTexture, Texture, Uniform};
        let w = c.weights.access();
        match c.storage {
            Conv3x3Storage::Buffers => numbered(&[Read, Read, w, Read, ReadWrite, Uniform]),
            Conv3x3Storage::Frame(precision) => vec![
                (0, Read),
                (2, w),
                (3, Read),
                (4, StorageTexture(precision.format())),
                (5, Uniform),
                (7, Uniform),
            ],
            Conv3x3Storage::Textures(precision, epilogue) => {
                let out = StorageTexture(precision.format());
                match epilogue {
                    Epilogue::Store => {
                        vec![(0, Texture), (2, w), (3, Read), (4, out), (5, Uniform)]
                    }
                    Epilogue::Pool => vec![
                        (0, Texture),
                        (2, w),
                        (3, Read),
                        (4, out),
                        (5, Uniform),
                        (8, out),
                    ],
                    Epilogue::Head(_) => vec![
                        (0, Texture),
                        (2, w),
                        (3, Read),
                        (4, ReadWrite),
                        (5, Uniform),
                        (6, Uniform),
                        (9, ReadWrite),
                    ],
                }
            }
        }
    }

    /// Every output block, or with uniform weights the blocks of the window that starts at
    /// `p.ob_first`.
    fn grid(c: Conv3x3Config, p: &Conv3x3Params) -> Vec<[u32; 3]> {
        let [x, y] = if c.two_rows() {
            // Blocks of 4 pixels × 2 rows (conv3x3_two_rows.wgsl).
            grid_2d(div_ceil(p.w, PW) * div_ceil(p.h, 2))
        } else {
            grid_2d(div_ceil(p.w, PX) * p.h)
        };
        let blocks = div_ceil(p.co4, OB);
        let z = match c.weights {
            WeightsIn::Storage => p.n * blocks,
            WeightsIn::Uniform => {
                (blocks - p.ob_first.min(blocks)).min(window_blocks(p.ca4 + p.cb4))
            }
        };
        vec![[x, y, z]]
    }

    fn configs() -> Vec<Conv3x3Config> {
        let mut storages = vec![Conv3x3Storage::Buffers];
        for precision in [Precision::F32, Precision::F16] {
            storages.push(Conv3x3Storage::Frame(precision));
            for epilogue in Epilogue::ALL {
                storages.push(Conv3x3Storage::Textures(precision, epilogue));
            }
        }
        let forms = |storage| {
            let texture = match storage {
                Conv3x3Storage::Buffers => Storage::Buffers,
                Conv3x3Storage::Frame(p) | Conv3x3Storage::Textures(p, _) => Storage::Textures(p),
            };
            weight_forms(texture).map(move |(variant, weights)| Conv3x3Config {
                variant,
                storage,
                weights,
            })
        };
        storages.into_iter().flat_map(forms).collect()
    }
}
