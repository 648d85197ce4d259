//! The fused inference engine's plan: the same U-Net as the per-operation engine in
//! [`crate::unet`], with every activation in a texture array (layer = 4 channels) instead of a
//! storage buffer, which lavapipe reads with vector gathers rather than lane by lane. Per frame:
//! flat-field (if set) and frame statistics, a copy of the statistics into the first conv's
//! uniform, then one dispatch per conv, pool and up-conv: the first conv reads the raw frame and
//! normalises it itself (`conv3x3_frame.wgsl`), each decoder's concatenation is one texture array
//! whose lower layers the encoder conv wrote and whose upper layers the up-conv wrote, and the
//! last conv applies the head and sigmoid in its epilogue (`conv3x3_head1x1.wgsl`), so only the
//! probability map is written to a buffer. No tiling: the whole padded frame must fit the device's
//! texture size.

use crate::error::{Error, Result};
use crate::kernels::*;
use crate::layout::c4;
use crate::model::level_channels;
use crate::unet::{Engine, FrameStage, Plan, StatsCopy, Step, Unet};

/// One activation texture array and the views the plan binds.
struct Activation {
    texture: wgpu::Texture,
}

impl Activation {
    fn new(
        ctx: &crate::gpu::Context,
        label: &str,
        (h, w, layers): (usize, usize, usize),
        format: wgpu::TextureFormat,
    ) -> Self {
        let texture = ctx.device.create_texture(&wgpu::TextureDescriptor {
            label: Some(label),
            size: wgpu::Extent3d {
                width: w as u32,
                height: h as u32,
                depth_or_array_layers: layers as u32,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::STORAGE_BINDING,
            view_formats: &[],
        });
        Activation { texture }
    }

    /// A 2D-array view of layers `[first, first + count)`.
    fn view(&self, first: usize, count: usize) -> wgpu::TextureView {
        self.texture.create_view(&wgpu::TextureViewDescriptor {
            dimension: Some(wgpu::TextureViewDimension::D2Array),
            base_array_layer: first as u32,
            array_layer_count: Some(count as u32),
            ..Default::default()
        })
    }

    fn all(&self) -> wgpu::TextureView {
        self.view(0, self.texture.depth_or_array_layers() as usize)
    }
}

impl Unet {
    /// Why the fused engine cannot run this model on an `h × w` frame, if it cannot.
    pub(crate) fn fused_unsupported(&self, h: usize, w: usize) -> Option<String> {
        let m = 1 << self.depth;
        let (hp, wp) = (h.next_multiple_of(m), w.next_multiple_of(m));
        let limits = &self.ctx.limits;
        let layers = 2 * c4(level_channels(self.channels, self.depth));
        if c4(self.channels) > 4 {
            Some(format!(
                "the fused engine's last conv holds at most 16 channels (UNet({}, {}) has {})",
                self.depth, self.channels, self.channels
            ))
        } else if hp.max(wp) > limits.max_texture_dimension_2d as usize {
            Some(format!(
                "a {wp}×{hp} padded frame exceeds the device's {}-texel textures",
                limits.max_texture_dimension_2d
            ))
        } else if layers > limits.max_texture_array_layers as usize {
            Some(format!(
                "{layers} channel groups exceed the device's {} texture layers",
                limits.max_texture_array_layers
            ))
        } else {
            None
        }
    }

    pub(crate) fn build_fused_plan(&self, h: usize, w: usize, bits: u32) -> Result<Plan> {
        if let Some(why) = self.fused_unsupported(h, w) {
            return Err(Error::Shape(format!("{why}; use the per-operation engine")));
        }
        let ctx = &self.ctx;
        let dev = &ctx.device;
        let d = self.depth;
        let m = 1 << d;
        let (hp, wp) = (h.next_multiple_of(m), w.next_multiple_of(m));
        let (hl, wl) = (|l: usize| hp >> l, |l: usize| wp >> l);
        let cl = |l: usize| level_channels(self.channels, l);
        let format = self.fused_precision().format();

        // Activation traffic at the storage precision (the formulas count 16 bytes a texel).
        let scale = |bytes: u64| match self.fused_precision() {
            Precision::F32 => bytes,
            Precision::F16 => bytes / 2,
        };
        let uniform = |label: &str, bytes: &[u8]| {
            ctx.buffer_with(
                label,
                bytes,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            )
        };
        let FrameStage {
            raw,
            hist,
            stats,
            prob,
            mask,
            readback,
            staging,
            raw_staging,
            mut steps,
        } = self.frame_stage(h, w, bits, self.prob_format, true)?;
        let mask_buffer = mask.clone().expect("the fused stage has a mask");
        let stats_steps = steps.len();
        let frame_params = uniform(
            "frame.params",
            bytemuck::bytes_of(&FrameParams {
                h: h as u32,
                w: w as u32,
                bits,
                mode: NormalizeParams::mode_of(self.normalization),
                stats: [0.0; 8],
            }),
        );

        // Per level: `input` (pooled from the level above; level 0 reads the frame), `t1` (conv1
        // output), `cat` (the encoder output in the lower layers, the up-conv output in the upper),
        // `t0` (decoder output, the bottleneck's output at level D).
        let input: Vec<Activation> = (1..=d)
            .map(|l| {
                Activation::new(
                    ctx,
                    &format!("level{l}.input"),
                    (hl(l), wl(l), c4(cl(l - 1))),
                    format,
                )
            })
            .collect();
        let t1: Vec<Activation> = (0..=d)
            .map(|l| {
                Activation::new(
                    ctx,
                    &format!("level{l}.t1"),
                    (hl(l), wl(l), c4(cl(l))),
                    format,
                )
            })
            .collect();
        let cat: Vec<Activation> = (0..d)
            .map(|l| {
                Activation::new(
                    ctx,
                    &format!("level{l}.cat"),
                    (hl(l), wl(l), 2 * c4(cl(l))),
                    format,
                )
            })
            .collect();
        let t0: Vec<Activation> = (1..=d)
            .map(|l| {
                Activation::new(
                    ctx,
                    &format!("level{l}.t0"),
                    (hl(l), wl(l), c4(cl(l))),
                    format,
                )
            })
            .collect();

        // Every view the bind groups borrow, made up front.
        let input_all: Vec<_> = input.iter().map(Activation::all).collect();
        let t1_all: Vec<_> = t1.iter().map(Activation::all).collect();
        let t0_all: Vec<_> = t0.iter().map(Activation::all).collect();
        let cat_all: Vec<_> = cat.iter().map(Activation::all).collect();
        let skip: Vec<_> = (0..d).map(|l| cat[l].view(0, c4(cl(l)))).collect();
        let up_out: Vec<_> = (0..d).map(|l| cat[l].view(c4(cl(l)), c4(cl(l)))).collect();

        let precision = self.fused_precision();
        let variant = ctx.variant();
        // One conv: one step, or with uniform weights one step per window of output blocks;
        // `inputs` are the storage file's input bindings (0 and, for the frame conv, 7; for the
        // head conv, 6), `y` its output (binding 4).
        let conv = |i: usize,
                    l: usize,
                    storage: Conv3x3Storage,
                    inputs: Vec<(u32, wgpu::BindingResource)>,
                    y: wgpu::BindingResource| {
            let cw = &self.convs[i];
            let whole = Conv3x3Params {
                n: 1,
                h: hl(l) as u32,
                w: wl(l) as u32,
                ca4: (c4(cw.ca) + c4(cw.cb)) as u32,
                cb4: 0,
                co4: c4(cw.co) as u32,
                relu: 1,
                ob_first: 0,
            };
            let kernel = ctx.kernel::<Conv3x3>(conv_config(variant, storage, whole.ca4));
            let blocks = whole.co4.div_ceil(conv3x3::OB);
            let per_step = match kernel.config.weights {
                WeightsIn::Storage => blocks,
                WeightsIn::Uniform => conv3x3::window_blocks(whole.ca4),
            };
            // The head's 1×1 conv runs in the last conv's epilogue, the encoder's pool in conv2's
            // (which also writes the pooled texels).
            let pool = Maxpool2x2Params {
                n: 1,
                h: whole.h,
                w: whole.w,
                c4: whole.co4,
            };
            let (extra_flops, extra_bytes) = match storage {
                Conv3x3Storage::Textures(_, Epilogue::Head(_)) => {
                    ((2 * self.channels * h * w) as u64, 0)
                }
                Conv3x3Storage::Textures(_, Epilogue::Pool) => {
                    (pool.flops(cw.co), pool.bytes() / 5)
                }
                _ => (0, 0),
            };
            let steps = blocks.div_ceil(per_step);
            (0..steps)
                .map(|s| {
                    let p = Conv3x3Params {
                        ob_first: s * per_step,
                        ..whole
                    };
                    let label = match steps {
                        1 => cw.name.clone(),
                        _ => format!("{}[{}/{steps}]", cw.name, s + 1),
                    };
                    let params = uniform(&format!("{label}.params"), bytemuck::bytes_of(&p));
                    let weight = match kernel.config.weights {
                        WeightsIn::Storage => cw.weight.as_entire_binding(),
                        WeightsIn::Uniform => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &cw.weight,
                            offset: conv3x3::window_offset(p.ob_first, p.ca4),
                            size: wgpu::BufferSize::new(UNIFORM_WINDOW_BYTES),
                        }),
                    };
                    let mut entries = inputs.clone();
                    entries.extend([
                        (2, weight),
                        (3, cw.bias.as_entire_binding()),
                        (4, y.clone()),
                        (5, params.as_entire_binding()),
                    ]);
                    let share = |v: u64| v * kernel.grid(&p)[0][2] as u64 / blocks as u64;
                    Step {
                        label: label.clone(),
                        flops: share(whole.flops(cw.ca + cw.cb, cw.co) + extra_flops),
                        bytes: share(scale(whole.bytes() + extra_bytes)),
                        dispatch: kernel.dispatch(kernel.bind_numbered(dev, &label, &entries), &p),
                    }
                })
                .collect::<Vec<_>>()
        };
        let tex = wgpu::BindingResource::TextureView;

        let mut ci = 0;
        for l in 0..d {
            let c = c4(cl(l));
            steps.extend(match l {
                0 => conv(
                    ci,
                    0,
                    Conv3x3Storage::Frame(precision),
                    vec![
                        (0, raw.as_entire_binding()),
                        (7, frame_params.as_entire_binding()),
                    ],
                    tex(&t1_all[0]),
                ),
                _ => conv(
                    ci,
                    l,
                    Conv3x3Storage::Textures(precision, Epilogue::Store),
                    vec![(0, tex(&input_all[l - 1]))],
                    tex(&t1_all[l]),
                ),
            });
            if pool_fuses(variant, c as u32) {
                steps.extend(conv(
                    ci + 1,
                    l,
                    Conv3x3Storage::Textures(precision, Epilogue::Pool),
                    vec![(0, tex(&t1_all[l])), (8, tex(&input_all[l]))],
                    tex(&skip[l]),
                ));
                ci += 2;
                continue;
            }
            steps.extend(conv(
                ci + 1,
                l,
                Conv3x3Storage::Textures(precision, Epilogue::Store),
                vec![(0, tex(&t1_all[l]))],
                tex(&skip[l]),
            ));
            ci += 2;
            let p = Maxpool2x2Params {
                n: 1,
                h: hl(l) as u32,
                w: wl(l) as u32,
                c4: c as u32,
            };
            let params = uniform("maxpool.params", bytemuck::bytes_of(&p));
            let pool = ctx.kernel::<Maxpool2x2>(Storage::Textures(precision));
            let g = pool.bind(dev, "maxpool2x2", &[&skip[l], &input_all[l], &params]);
            steps.push(Step {
                label: format!("enc{l}.pool"),
                flops: p.flops(cl(l)),
                bytes: scale(p.bytes()),
                dispatch: pool.dispatch(g, &p),
            });
        }
        let (x, y1, y0) = (&input_all[d - 1], &t1_all[d], &t0_all[d - 1]);
        steps.extend(conv(
            ci,
            d,
            Conv3x3Storage::Textures(precision, Epilogue::Store),
            vec![(0, tex(x))],
            tex(y1),
        ));
        steps.extend(conv(
            ci + 1,
            d,
            Conv3x3Storage::Textures(precision, Epilogue::Store),
            vec![(0, tex(y1))],
            tex(y0),
        ));
        ci += 2;
        let head_params = self.head_params(h, w);
        let head = uniform("head.params", bytemuck::bytes_of(&head_params));
        for (i, l) in (0..d).rev().enumerate() {
            let up = &self.ups[i];
            let p = Upconv2x2Params {
                n: 1,
                h: hl(l + 1) as u32,
                w: wl(l + 1) as u32,
                ci4: c4(up.ci) as u32,
                co4: c4(up.co) as u32,
                _pad: [0; 3],
            };
            let params = uniform(&format!("{}.params", up.name), bytemuck::bytes_of(&p));
            let (x, y) = (&t0_all[l], &up_out[l]);
            let kernel = ctx.kernel::<Upconv2x2>(upconv_config(variant, precision, p.ci4, p.co4));
            let weight = match kernel.config.weights {
                WeightsIn::Storage => up.weight.as_entire_binding(),
                WeightsIn::Uniform => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &up.weight,
                    offset: 0,
                    size: wgpu::BufferSize::new(UNIFORM_WINDOW_BYTES),
                }),
            };
            let g = kernel.bind_numbered(
                dev,
                &up.name,
                &[
                    (0, tex(x)),
                    (1, weight),
                    (2, up.bias.as_entire_binding()),
                    (3, tex(y)),
                    (4, params.as_entire_binding()),
                ],
            );
            steps.push(Step {
                label: up.name.clone(),
                flops: p.flops(up.ci, up.co),
                bytes: scale(p.bytes()),
                dispatch: kernel.dispatch(g, &p),
            });
            let (x, y1) = (&cat_all[l], &t1_all[l]);
            steps.extend(conv(
                ci,
                l,
                Conv3x3Storage::Textures(precision, Epilogue::Store),
                vec![(0, tex(x))],
                tex(y1),
            ));
            steps.extend(if l == 0 {
                conv(
                    ci + 1,
                    0,
                    Conv3x3Storage::Textures(precision, Epilogue::Head(self.prob_format)),
                    vec![
                        (0, tex(y1)),
                        (6, head.as_entire_binding()),
                        (9, mask_buffer.as_entire_binding()),
                    ],
                    prob.as_entire_binding(),
                )
            } else {
                conv(
                    ci + 1,
                    l,
                    Conv3x3Storage::Textures(precision, Epilogue::Store),
                    vec![(0, tex(y1))],
                    tex(&t0_all[l - 1]),
                )
            });
            ci += 2;
        }
        let mut textures: Vec<wgpu::Texture> = Vec::new();
        for a in input.into_iter().chain(t1).chain(cat).chain(t0) {
            textures.push(a.texture);
        }
        Ok(Plan {
            key: (h, w, bits),
            engine: Engine::Fused,
            tiles: vec![crate::unet::Tile {
                oy: 0,
                ox: 0,
                th: hp,
                tw: wp,
                cy0: 0,
                cy1: hp,
                cx0: 0,
                cx1: wp,
            }],
            raw,
            hist,
            stats: stats.clone(),
            clusters: None,
            prob,
            mask,
            readback,
            staging,
            raw_staging,
            steps,
            head: Some((head, head_params)),
            stats_copy: Some(StatsCopy {
                from: stats,
                to: frame_params,
                after: stats_steps,
            }),
            batch: Vec::new(),
            _activations: Vec::new(),
            _textures: textures,
        })
    }

    /// The head's weights, bias, the frame size and the threshold for the last conv's epilogue.
    fn head_params(&self, h: usize, w: usize) -> HeadParams {
        let mut weight = [[0.0f32; 4]; 4];
        for (i, v) in self.head_packed.iter().enumerate().take(16) {
            weight[i / 4][i % 4] = *v;
        }
        HeadParams {
            weight,
            bias: self.head_bias_value,
            out_h: h as u32,
            out_w: w as u32,
            threshold: self.threshold,
        }
    }
}

/// Where the fused engine's weight-heavy kernels read their weights: uniform windows where lanes
/// load them together (the subgroup variant, chosen on CPU adapters: 1.5× faster on lavapipe,
/// where a storage load is emulated lane by lane), else the storage buffer.
pub fn fused_weights(variant: Variant) -> WeightsIn {
    match variant {
        Variant::Subgroup => WeightsIn::Uniform,
        Variant::Direct => WeightsIn::Storage,
    }
}

/// The fused conv for `storage` with `cin4` input groups. The first and last convs are narrow (1
/// and at most 4 input groups: the fused engine runs models up to 16 channels wide), so their
/// windows always fit; a plain texture conv wider than a window reads storage weights.
pub fn conv_config(variant: Variant, storage: Conv3x3Storage, cin4: u32) -> Conv3x3Config {
    let weights = match (fused_weights(variant), storage) {
        (WeightsIn::Uniform, Conv3x3Storage::Textures(_, Epilogue::Store))
            if cin4 > conv3x3::UNIFORM_WINDOW_MAX_CIN4 =>
        {
            WeightsIn::Storage
        }
        (weights, _) => weights,
    };
    Conv3x3Config {
        variant,
        storage,
        weights,
    }
}

/// Whether an encoder conv2 of `cin4` input groups can run with the pool in its epilogue (the
/// pooling conv has no storage-weight twin: wider ones run as conv, then pool).
pub fn pool_fuses(variant: Variant, cin4: u32) -> bool {
    fused_weights(variant) == WeightsIn::Storage || cin4 <= conv3x3::UNIFORM_WINDOW_MAX_CIN4
}

/// The fused up-conv for `ci4` input and `co4` output groups: storage weights where the tensor
/// does not fit one uniform buffer.
pub fn upconv_config(
    variant: Variant,
    precision: Precision,
    ci4: u32,
    co4: u32,
) -> Upconv2x2Config {
    let weights = match fused_weights(variant) {
        WeightsIn::Uniform if !upconv2x2::fits_uniform(ci4, co4) => WeightsIn::Storage,
        weights => weights,
    };
    Upconv2x2Config {
        variant,
        storage: Storage::Textures(precision),
        weights,
    }
}
