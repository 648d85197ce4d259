//! U-Net inference on the GPU: weights packed and uploaded once, a plan per frame size (tiles,
//! buffers, bind groups, parameters built once and reused), one command encoder and one submit
//! per frame, readback of the probability map through a mapped staging buffer.
//!
//! Two engines build plans: the per-operation engine here (one dispatch per operation, activations
//! in storage buffers, the same kernels training uses) and the fused engine (`src/nn/fused.rs`:
//! activations in textures, the first conv reading the raw frame, the last applying the head).
//! Both give the same probabilities.
//!
//! Frames whose activations would exceed the device's largest storage binding (lavapipe: 128 MiB)
//! are processed as tiles with halos: each tile covers its core plus a halo wider than the
//! network's receptive radius, all tile edges lie on multiples of 2^D (so pooling grids align),
//! and each tile writes only its core. Every output pixel therefore sees exactly the inputs it
//! sees in a whole-frame pass, and tiled results equal untiled ones.

use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::gpu::{Context, read_mapped};
use crate::kernels::*;
use crate::layout::{self, c4};
use crate::model::{Model, Normalization, level_channels};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod ops_plan;
mod prepare;
mod readback;
pub(crate) use prepare::Back;
pub(crate) use readback::*;

/// The result of segmenting one frame.
#[derive(Clone, Debug)]
pub struct Segmentation {
    /// Frame width (pixels).
    pub width: usize,
    /// Frame height (pixels).
    pub height: usize,
    /// Probabilities, row-major `height × width`, on the grid of the [`ProbFormat`] asked for
    /// ([`Unet::set_prob_format`]).
    pub prob: Vec<f32>,
    /// The mask delivered with the probabilities (0 or 255 per pixel, row-major), decided on the
    /// f32 probability before any rounding to a [`ProbFormat`]: the fused engine's last conv
    /// writes it on the GPU; the per-operation engine fills it on the host when it rounds the
    /// probabilities. `None`: [`Segmentation::mask`] thresholds `prob` (f32, so the same pixels).
    pub mask_bytes: Option<Vec<u8>>,
    /// The decision threshold the mask was made with.
    pub threshold: f32,
    /// Wall time of upload, GPU work and readback.
    pub elapsed: Duration,
    /// Number of tiles the frame was processed in (1 when it fits the device).
    pub tiles: usize,
    /// The engine that ran.
    pub engine: Engine,
    /// With a flat-field set ([`Unet::set_flatfield`]): the corrected frame the network saw, read
    /// back from the GPU (what the cluster stage should measure).
    pub corrected: Option<Frame>,
    /// With [`Unet::set_gpu_clusters`], from [`Unet::segment`]: the mask's 8-connected clusters
    /// labelled and measured on the GPU, weighted by max(0, median − p) of the (corrected) frame,
    /// unsplit and without sub-pixel refinement: `clusters::find_clusters` of [`Segmentation::mask`]
    /// exactly, with only the cluster table read back for them.
    pub clusters: Option<Vec<crate::clusters::Cluster>>,
    /// Dark lines found along the frame's edges (`crate::edges`): repaired for the network and
    /// cleared from `prob` and the mask.
    pub dark_edges: crate::edges::DarkEdges,
}

impl Segmentation {
    /// The binary mask, 0 or 255 per pixel: probability ≥ threshold (the f32 probability, before
    /// any rounding to the [`ProbFormat`]).
    pub fn mask(&self) -> Vec<u8> {
        match &self.mask_bytes {
            Some(mask) => mask.clone(),
            None => threshold_mask(&self.prob, self.threshold),
        }
    }

    /// The clusters `emunet segment` writes for this result of segmenting `raw`: the mask's
    /// clusters split at separate grains, measured on the frame the network saw (the flat-field
    /// corrected one when set, else `raw`), sub-pixel positions.
    pub fn cluster_list(&self, raw: &Frame) -> Vec<crate::clusters::Cluster> {
        self.cluster_map(raw).clusters
    }

    /// [`Segmentation::cluster_list`] with the labelling and darkness it was measured from.
    pub fn cluster_map(&self, raw: &Frame) -> crate::cluster_list::ClusterMap {
        let frame = self.corrected.as_ref().unwrap_or(raw);
        crate::cluster_list::frame_clusters(frame, &self.mask(), true)
    }
}

/// 0 or 255 per pixel: p ≥ threshold (the network's mask rule).
fn threshold_mask(prob: &[f32], threshold: f32) -> Vec<u8> {
    prob.iter()
        .map(|&p| if p >= threshold { 255 } else { 0 })
        .collect()
}

/// Which inference path runs a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Engine {
    /// The fused engine where the model and frame allow it (UNet width ≤ 16, frame within the
    /// device's texture size), the per-operation engine otherwise.
    #[default]
    Auto,
    /// One dispatch per operation on storage buffers (the training kernels), tiled when needed.
    Ops,
    /// Activations in textures, normalisation fused into the first conv and the head into the
    /// last; an error where the model or frame does not allow it.
    Fused,
}

crate::choice!(Engine {
    Auto => "auto",
    Ops => "ops",
    Fused => "fused",
});

pub(crate) struct ConvWeights {
    pub(crate) name: String,
    pub(crate) weight: wgpu::Buffer,
    pub(crate) bias: wgpu::Buffer,
    pub(crate) ca: usize,
    pub(crate) cb: usize,
    pub(crate) co: usize,
}

pub(crate) struct UpWeights {
    pub(crate) name: String,
    pub(crate) weight: wgpu::Buffer,
    pub(crate) bias: wgpu::Buffer,
    pub(crate) ci: usize,
    pub(crate) co: usize,
}

/// A rectangle of the padded frame processed in one go: the tile `[oy, oy+th) × [ox, ox+tw)` and
/// its core (tile coordinates) whose outputs it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    /// Top row of the tile in the padded frame.
    pub oy: usize,
    /// Left column of the tile in the padded frame.
    pub ox: usize,
    /// Tile height (pixels).
    pub th: usize,
    /// Tile width (pixels).
    pub tw: usize,
    /// First row of the core (tile coordinates).
    pub cy0: usize,
    /// One past the last row of the core (tile coordinates).
    pub cy1: usize,
    /// First column of the core (tile coordinates).
    pub cx0: usize,
    /// One past the last column of the core (tile coordinates).
    pub cx1: usize,
}

/// One dispatch of the plan, with what the profile reports about it.
pub(crate) struct Step {
    pub(crate) label: String,
    pub(crate) flops: u64,
    /// Minimal memory traffic (read each input once, write each output once).
    pub(crate) bytes: u64,
    /// The kernel, its bind group and grid.
    pub(crate) dispatch: crate::kernels::Dispatch,
}

impl Step {
    fn record(&self, pass: &mut wgpu::ComputePass) {
        self.dispatch.record(pass);
    }
}

/// GPU time of one dispatch (from timestamp queries), for [`Unet::profile`].
#[derive(Clone, Debug)]
pub struct StepTime {
    /// The dispatch's label, e.g. `enc0.conv1` (`tile0.enc0.conv1` in the per-operation engine).
    pub label: String,
    /// Floating-point operations of the dispatch (0 where not counted).
    pub flops: u64,
    /// Minimal memory traffic of the dispatch (bytes).
    pub bytes: u64,
    /// Time the dispatch took (s): GPU time, or wall time from [`Unet::profile_wall`].
    pub seconds: f64,
}

pub(crate) struct Plan {
    pub(crate) key: (usize, usize, u32),
    pub(crate) engine: Engine,
    pub(crate) tiles: Vec<Tile>,
    pub(crate) raw: wgpu::Buffer,
    pub(crate) hist: wgpu::Buffer,
    /// Frame statistics (frame_stats.wgsl): [4] is the median the cluster weights use.
    pub(crate) stats: wgpu::Buffer,
    /// With [`Unet::set_gpu_clusters`]: the mask and its clusters on the GPU.
    pub(crate) clusters: Option<MaskClusters>,
    pub(crate) prob: wgpu::Buffer,
    /// The fused engine's mask, written by its last conv beside the probabilities.
    pub(crate) mask: Option<wgpu::Buffer>,
    /// The probabilities (then the mask) as the staging buffers hold them.
    pub(crate) readback: Readback,
    pub(crate) staging: wgpu::Buffer,
    /// Readback of the flat-fielded frame, when a flat-field is set.
    pub(crate) raw_staging: Option<wgpu::Buffer>,
    pub(crate) steps: Vec<Step>,
    /// Fused engine: the last conv's head parameters (the threshold changes with
    /// [`Unet::set_threshold`]).
    pub(crate) head: Option<(wgpu::Buffer, HeadParams)>,
    /// Fused engine: the frame statistics copied into the first conv's uniform mid-frame.
    pub(crate) stats_copy: Option<StatsCopy>,
    /// Per-frame buffers of [`Unet::segment_batch`], grown on demand.
    pub(crate) batch: Vec<BatchSlot>,
    // Activations stay alive as long as the bind groups that use them.
    pub(crate) _activations: Vec<wgpu::Buffer>,
    pub(crate) _textures: Vec<wgpu::Texture>,
}

/// UNet(D, C) on the GPU.
pub struct Unet {
    pub(crate) ctx: Arc<Context>,
    /// The model's depth D.
    pub depth: usize,
    /// The model's base channel count C.
    pub channels: usize,
    /// Decision threshold; [`Unet::set_threshold`] changes it and the fused engine's GPU copy.
    pub threshold: f32,
    /// How frames become the network's input (the model's rule).
    pub normalization: Normalization,
    pub(crate) convs: Vec<ConvWeights>,
    pub(crate) ups: Vec<UpWeights>,
    head_weight: wgpu::Buffer,
    head_bias: wgpu::Buffer,
    /// The head's packed weights and bias on the CPU (the fused engine's last conv takes them as
    /// a uniform).
    pub(crate) head_packed: Vec<f32>,
    pub(crate) head_bias_value: f32,
    engine: Engine,
    /// How the fused engine stores activations; None: auto (f16, measured faster; the
    /// per-operation engine is f32 either way).
    pub(crate) precision: Option<Precision>,
    /// How the probabilities come back ([`Unet::set_prob_format`]).
    pub(crate) prob_format: ProbFormat,
    /// Largest activation buffer a tile may use (defaults to the device's binding limit).
    tile_budget: u64,
    /// The camera's fixed pattern, taken out of each frame on the GPU before anything reads it.
    pub(crate) flat: Option<crate::flatfield::GpuFlatField>,
    /// The flat-field as set ([`Unet::set_flatfield`]): uploaded to `flat`, or applied on the
    /// host when frames are resampled.
    flat_host: Option<crate::flatfield::FlatField>,
    /// The frames' pixel size ([`Unet::set_pixel_um`]); `None`: the model's.
    pixel_um: Option<f64>,
    /// The pixel size the model was trained at ([`Model::pixel_um`]).
    model_pixel_um: f64,
    /// Lines cleared along every edge ([`Unet::set_border`]).
    border: usize,
    plan: Option<Plan>,
    /// Label and measure the mask on the GPU in [`Unet::segment`].
    gpu_clusters: bool,
    /// Frames of [`Unet::submit`] not yet returned by [`Unet::poll`] (src/nn/stream.rs).
    pub(crate) stream: crate::stream::StreamState,
}

/// Receptive radius (level-0 pixels) of UNet(D): an output pixel depends only on inputs closer
/// than this. R(D) = 2 (two bottleneck convs); R(l) = 2·R(l+1) + 7 bounds one level's two
/// encoder convs, its pooling pair, the up-conv's 2×2 footprint and two decoder convs.
pub fn receptive_radius(depth: usize) -> usize {
    (0..depth).fold(2, |r, _| 2 * r + 7)
}

impl Unet {
    /// Packs and uploads the model's weights (buffers labelled with the tensor names).
    pub fn new(ctx: Arc<Context>, model: &Model) -> Result<Self> {
        let d = model.depth;
        let c = model.channels;
        // Packed weights the fused engine may also bind as uniform windows (at least one window
        // long, so that any window within them is whole).
        let uniform_capable = |label: &str, mut w: Vec<f32>| {
            w.resize(w.len().max((UNIFORM_WINDOW_BYTES / 4) as usize), 0.0);
            ctx.buffer_with(
                label,
                bytemuck::cast_slice(&w),
                wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::UNIFORM
                    | wgpu::BufferUsages::COPY_SRC,
            )
        };
        let upload_conv = |name: String, ca: usize, cb: usize, co: usize| {
            let mut w =
                layout::pack_conv3x3_weight(model.tensor(&format!("{name}.weight")), co, ca, cb);
            // Zero-padded by one uniform window, so that the fused engine's window of any output
            // block is whole (conv3x3_weights_uniform.wgsl); the storage form ignores the tail.
            w.resize(w.len() + (UNIFORM_WINDOW_BYTES / 4) as usize, 0.0);
            let b = layout::pack_bias(model.tensor(&format!("{name}.bias")));
            ConvWeights {
                weight: uniform_capable(&format!("{name}.weight"), w),
                bias: ctx.upload(&format!("{name}.bias"), &b),
                name,
                ca,
                cb,
                co,
            }
        };
        let mut convs = Vec::new();
        let mut ci = 1;
        for l in 0..d {
            let cl = level_channels(c, l);
            convs.push(upload_conv(format!("enc{l}.conv1"), ci, 0, cl));
            convs.push(upload_conv(format!("enc{l}.conv2"), cl, 0, cl));
            ci = cl;
        }
        let cb = level_channels(c, d);
        convs.push(upload_conv("bottleneck.conv1".into(), ci, 0, cb));
        convs.push(upload_conv("bottleneck.conv2".into(), cb, 0, cb));
        let mut ups = Vec::new();
        for l in (0..d).rev() {
            let cl = level_channels(c, l);
            convs.push(upload_conv(format!("dec{l}.conv1"), cl, cl, cl));
            convs.push(upload_conv(format!("dec{l}.conv2"), cl, 0, cl));
            let name = format!("dec{l}.up");
            let w =
                layout::pack_upconv2x2_weight(model.tensor(&format!("{name}.weight")), 2 * cl, cl);
            let b = layout::pack_bias(model.tensor(&format!("{name}.bias")));
            ups.push(UpWeights {
                weight: uniform_capable(&format!("{name}.weight"), w),
                bias: ctx.upload(&format!("{name}.bias"), &b),
                name,
                ci: 2 * cl,
                co: cl,
            });
        }
        let head_packed = layout::pack_head_weight(model.tensor("head.weight"));
        let head_weight = ctx.upload("head.weight", &head_packed);
        let head_bias_value = model.tensor("head.bias")[0];
        let head_bias = ctx.upload("head.bias", &layout::pack_bias(model.tensor("head.bias")));
        let tile_budget = ctx.max_binding_bytes();
        Ok(Unet {
            ctx,
            depth: d,
            channels: c,
            threshold: model.threshold,
            normalization: model.normalization(),
            convs,
            ups,
            head_weight,
            head_bias,
            head_packed,
            head_bias_value,
            engine: Engine::Auto,
            precision: Some(Precision::F32),
            prob_format: ProbFormat::F32,
            tile_budget,
            flat: None,
            flat_host: None,
            pixel_um: None,
            model_pixel_um: model.pixel_um(),
            border: 0,
            plan: None,
            gpu_clusters: false,
            stream: crate::stream::StreamState::new(),
        })
    }

    /// Takes `flat`'s fixed pattern out of every following frame on the GPU (`flatfield.wgsl`),
    /// before the frame statistics; `None` turns it off. Frames of another size are refused.
    pub fn set_flatfield(&mut self, flat: Option<&crate::flatfield::FlatField>) {
        self.flat_host = flat.cloned();
        self.upload_flat();
    }

    /// Also label the mask and measure its clusters on the GPU in [`Unet::segment`]
    /// ([`Segmentation::clusters`]; batches and streams leave them `None`).
    pub fn set_gpu_clusters(&mut self, on: bool) {
        self.gpu_clusters = on;
        self.plan = None;
    }

    /// Chooses the inference path for the following frames.
    pub fn set_engine(&mut self, engine: Engine) {
        self.engine = engine;
        self.plan = None;
    }

    /// Chooses how the fused engine stores activations (default f32). The per-operation engine
    /// is f32 only: with f16, Auto means the fused engine and Ops is refused. `None` is auto:
    /// f16 in the fused engine (faster on every adapter measured, probabilities within 0.01 of
    /// f32), f32 where the per-operation engine runs.
    pub fn set_precision(&mut self, precision: impl Into<Option<Precision>>) {
        self.precision = precision.into();
        self.plan = None;
    }

    /// Chooses how the probabilities come back (default f32): the fused engine's last conv
    /// writes them as f16 or u8 (half or a quarter of the bytes to read back) beside a mask
    /// decided on the f32 probability; the per-operation engine rounds them on the host after
    /// taking its mask, so both give this format's values and the same mask.
    pub fn set_prob_format(&mut self, format: ProbFormat) {
        self.prob_format = format;
        self.plan = None;
    }

    /// How the probabilities come back.
    pub fn prob_format(&self) -> ProbFormat {
        self.prob_format
    }

    /// The storage precision the fused engine uses.
    pub(crate) fn fused_precision(&self) -> Precision {
        self.precision.unwrap_or(Precision::F16)
    }

    /// Caps the activation buffer size a tile may use (tests force tiling on small frames with it).
    pub fn set_tile_budget(&mut self, bytes: u64) {
        self.tile_budget = bytes.min(self.ctx.max_binding_bytes());
        self.plan = None;
    }

    /// FLOPs of one forward pass over a padded `h × w` input (multiply-add = 2), excluding tiling
    /// overlap: the work the benches report.
    pub fn flops(depth: usize, channels: usize, h: usize, w: usize) -> u64 {
        let conv = |ci: usize, co: usize, px: usize| (18 * ci * co * px) as u64;
        let (hp, wp) = (
            h.next_multiple_of(1 << depth),
            w.next_multiple_of(1 << depth),
        );
        let px = |l: usize| (hp >> l) * (wp >> l);
        let mut total = 0;
        let mut ci = 1;
        for l in 0..depth {
            let c = level_channels(channels, l);
            total += conv(ci, c, px(l)) + conv(c, c, px(l));
            ci = c;
        }
        let cb = level_channels(channels, depth);
        total += conv(ci, cb, px(depth)) + conv(cb, cb, px(depth));
        for l in 0..depth {
            let c = level_channels(channels, l);
            total += (8 * 2 * c * c * px(l + 1)) as u64; // up-conv: 4 outputs per input pixel
            total += conv(2 * c, c, px(l)) + conv(c, c, px(l));
        }
        total + (2 * channels * px(0)) as u64
    }

    /// The arithmetic of one `w × h` frame through this network.
    pub(crate) fn frame_flops(&self, h: usize, w: usize) -> u64 {
        Self::flops(self.depth, self.channels, h, w)
    }

    /// Segments one frame: probabilities from the GPU, with the wall time it took.
    pub fn segment(&mut self, frame: &Frame) -> Result<Segmentation> {
        let (input, back) = self.prepare(frame)?;
        let seg = self.segment_native(&input)?;
        Ok(match back {
            Some(back) => self.restore(seg, back, self.gpu_clusters.then_some(frame)),
            None => seg,
        })
    }

    /// [`Unet::segment`] of a frame at the model's scale.
    fn segment_native(&mut self, frame: &Frame) -> Result<Segmentation> {
        let (h, w) = (frame.height, frame.width);
        self.ensure_plan(h, w, frame.bits())?;
        let _work = self.ctx.expect_work(self.frame_flops(h, w));
        let plan = self.plan.as_ref().expect("plan was just built");
        let ctx = &self.ctx;
        let start = Instant::now();
        ctx.checked("running the U-Net", || {
            ctx.queue
                .write_buffer(&plan.raw, 0, bytemuck::cast_slice(&frame.packed_words()));
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            plan.record_frame(&mut encoder, &plan.staging, plan.raw_staging.as_ref());
            if let Some(c) = &plan.clusters {
                c.record(ctx, &mut encoder, self.threshold);
            }
            ctx.submit(encoder);
        })?;
        let Delivered {
            prob,
            mask: mask_bytes,
            corrected,
        } = plan.read_back(
            ctx,
            &plan.staging,
            plan.raw_staging.as_ref(),
            frame,
            self.threshold,
        )?;
        let clusters = match &plan.clusters {
            Some(c) => Some(c.plan.read(ctx, (0.0, 0.0))?),
            None => None,
        };
        Ok(Segmentation {
            width: w,
            height: h,
            prob,
            mask_bytes,
            threshold: self.threshold,
            elapsed: start.elapsed(),
            tiles: plan.tiles.len(),
            engine: plan.engine,
            corrected,
            clusters,
            dark_edges: Default::default(),
        })
    }

    /// Segments frames of one size and bit depth with one submit: each frame is copied from its
    /// own upload buffer into the plan's, run, and its probabilities copied to its own staging
    /// buffer, all in one command buffer (buffers planned once and kept for later batches of up
    /// to the same count). Results equal [`Unet::segment`]'s frame by frame; each `elapsed` is
    /// the whole batch's wall time.
    pub fn segment_batch(&mut self, frames: &[Frame]) -> Result<Vec<Segmentation>> {
        let mut prepared = Vec::with_capacity(frames.len());
        for frame in frames {
            prepared.push(self.prepare(frame)?);
        }
        if prepared.iter().all(|(_, back)| back.is_none()) {
            return self.segment_batch_native(frames);
        }
        let (inputs, backs): (Vec<Frame>, Vec<Option<Back>>) = prepared
            .into_iter()
            .map(|(input, back)| (input.into_owned(), back))
            .unzip();
        let segs = self.segment_batch_native(&inputs)?;
        Ok(segs
            .into_iter()
            .zip(backs)
            .map(|(seg, back)| match back {
                Some(back) => self.restore(seg, back, None),
                None => seg,
            })
            .collect())
    }

    /// [`Unet::segment_batch`] of frames at the model's scale.
    fn segment_batch_native(&mut self, frames: &[Frame]) -> Result<Vec<Segmentation>> {
        let Some(first) = frames.first() else {
            return Ok(Vec::new());
        };
        let (h, w, bits) = (first.height, first.width, first.bits());
        if let Some((i, f)) = frames
            .iter()
            .enumerate()
            .find(|(_, f)| (f.height, f.width, f.bits()) != (h, w, bits))
        {
            return Err(Error::Shape(format!(
                "frame {i} of the batch is {}×{} {}-bit, frame 0 is {w}×{h} {bits}-bit: a batch \
                 holds frames of one size and depth",
                f.width,
                f.height,
                f.bits()
            )));
        }
        // The batch uses the stream's slots.
        if !self.stream.pending.is_empty() {
            return Err(Error::InFlight(self.stream.pending.len()));
        }
        self.ensure_plan(h, w, bits)?;
        let _work = self
            .ctx
            .expect_work(self.frame_flops(h, w) * frames.len() as u64);
        let ctx = self.ctx.clone();
        let plan = self.plan.as_mut().expect("plan was just built");
        plan.ensure_slots(&ctx, frames.len());
        let plan = self.plan.as_ref().expect("plan was just built");
        let start = Instant::now();
        ctx.checked("running the U-Net on a batch", || {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            for (frame, slot) in frames.iter().zip(&plan.batch) {
                ctx.queue.write_buffer(
                    &slot.upload,
                    0,
                    bytemuck::cast_slice(&frame.packed_words()),
                );
                encoder.copy_buffer_to_buffer(&slot.upload, 0, &plan.raw, 0, plan.raw.size());
                plan.record_frame(&mut encoder, &slot.staging, slot.raw_staging.as_ref());
            }
            ctx.submit(encoder);
        })?;
        let mut out = Vec::with_capacity(frames.len());
        for (frame, slot) in frames.iter().zip(&plan.batch) {
            let Delivered {
                prob,
                mask: mask_bytes,
                corrected,
            } = plan.read_back(
                &ctx,
                &slot.staging,
                slot.raw_staging.as_ref(),
                frame,
                self.threshold,
            )?;
            out.push(Segmentation {
                width: w,
                height: h,
                prob,
                mask_bytes,
                threshold: self.threshold,
                elapsed: Duration::ZERO,
                tiles: plan.tiles.len(),
                engine: plan.engine,
                corrected,
                clusters: None,
                dark_edges: Default::default(),
            });
        }
        let elapsed = start.elapsed();
        for seg in &mut out {
            seg.elapsed = elapsed;
        }
        Ok(out)
    }

    pub(crate) fn plan_ref(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    pub(crate) fn plan_mut(&mut self) -> Option<&mut Plan> {
        self.plan.as_mut()
    }

    /// Builds the plan for `h × w` frames of `bits` bits unless the current one is for them.
    pub(crate) fn ensure_plan(&mut self, h: usize, w: usize, bits: u32) -> Result<()> {
        // A lost or hung device fails every frame at once, before any work is recorded.
        self.ctx.healthy()?;
        let m = 1 << self.depth;
        if h < m || w < m {
            return Err(Error::Shape(format!(
                "a {w}×{h} frame is smaller than 2^D = {m} pixels on a side for UNet({}, {})",
                self.depth, self.channels
            )));
        }
        let key = (h, w, bits);
        if self.plan.as_ref().is_none_or(|p| p.key != key) {
            self.plan = None; // free the old buffers before allocating new ones
            let mut plan = self
                .ctx
                .checked("planning buffers", || self.build_plan(h, w, bits))??;
            if self.gpu_clusters {
                let clusters = self.ctx.checked("planning GPU clusters", || {
                    MaskClusters::new(&self.ctx, &plan)
                })??;
                plan.clusters = Some(clusters);
            }
            self.plan = Some(plan);
        }
        Ok(())
    }

    /// Runs `frame` once with every dispatch in its own compute pass bracketed by timestamp
    /// queries and returns each dispatch's GPU time (needs the adapter's timestamp queries).
    pub fn profile(&mut self, frame: &Frame) -> Result<Vec<StepTime>> {
        if !self.ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            return Err(Error::Device("the adapter has no timestamp queries".into()));
        }
        self.segment(frame)?; // builds the plan and leaves the frame statistics in place
        let plan = self.plan.as_ref().expect("segment built the plan");
        let ctx = &self.ctx;
        let count = plan.steps.len() as u32 * 2;
        let queries = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let resolved = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile.resolved"),
            size: count as u64 * 8,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let staging = ctx.staging("profile.staging", count as u64 * 8);
        ctx.checked("profiling the U-Net", || {
            // The same input as a real run: the raw frame again (the flat-field corrects it in
            // place) and a cleared histogram.
            ctx.queue
                .write_buffer(&plan.raw, 0, bytemuck::cast_slice(&frame.packed_words()));
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            encoder.clear_buffer(&plan.hist, 0, None);
            for (i, step) in plan.steps.iter().enumerate() {
                plan.copy_stats_before(i, &mut encoder);
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(&step.label),
                    timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                        query_set: &queries,
                        beginning_of_pass_write_index: Some(2 * i as u32),
                        end_of_pass_write_index: Some(2 * i as u32 + 1),
                    }),
                });
                step.record(&mut pass);
            }
            encoder.resolve_query_set(&queries, 0..count, &resolved, 0);
            encoder.copy_buffer_to_buffer(&resolved, 0, &staging, 0, count as u64 * 8);
            ctx.submit(encoder);
        })?;
        let ticks: Vec<u64> = read_mapped(ctx, &staging)?;
        let period = ctx.queue.get_timestamp_period() as f64 * 1e-9;
        Ok(plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepTime {
                label: s.label.clone(),
                flops: s.flops,
                bytes: s.bytes,
                seconds: ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period,
            })
            .collect())
    }

    /// Runs `frame` once with every dispatch submitted on its own and waited for, and returns the
    /// wall time of each (submission overhead included). For adapters without timestamp queries,
    /// and lavapipe, whose timestamps miss work that writes storage textures.
    pub fn profile_wall(&mut self, frame: &Frame) -> Result<Vec<StepTime>> {
        self.segment(frame)?; // builds the plan and leaves the frame statistics in place
        let plan = self.plan.as_ref().expect("segment built the plan");
        let ctx = &self.ctx;
        ctx.queue
            .write_buffer(&plan.raw, 0, bytemuck::cast_slice(&frame.packed_words()));
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&plan.hist, 0, None);
        ctx.submit(encoder);
        let mut times = Vec::new();
        for (i, step) in plan.steps.iter().enumerate() {
            let start = Instant::now();
            ctx.checked("profiling the U-Net", || {
                let mut encoder = ctx.device.create_command_encoder(&Default::default());
                plan.copy_stats_before(i, &mut encoder);
                {
                    let mut pass = encoder.begin_compute_pass(&Default::default());
                    step.record(&mut pass);
                }
                ctx.submit(encoder)
            })?;
            ctx.wait(&format!("dispatch {}", step.label), None)?;
            times.push(StepTime {
                label: step.label.clone(),
                flops: step.flops,
                bytes: step.bytes,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
        Ok(times)
    }

    /// The tiles the current plan uses (empty before the first frame).
    pub fn tiles(&self) -> &[Tile] {
        self.plan.as_ref().map_or(&[], |p| &p.tiles)
    }

    /// Overrides the decision threshold.
    pub fn set_threshold(&mut self, threshold: f32) -> Result<()> {
        crate::model::check_shape(self.depth, self.channels, threshold)?;
        self.threshold = threshold;
        // The fused engine's mask is decided on the GPU: frames submitted from now on use it.
        if let Some((buffer, params)) = self.plan.as_mut().and_then(|p| p.head.as_mut()) {
            params.threshold = threshold;
            self.ctx
                .queue
                .write_buffer(buffer, 0, bytemuck::bytes_of(&*params));
        }
        Ok(())
    }
}
