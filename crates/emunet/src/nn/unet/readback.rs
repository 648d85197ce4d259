//! What both engines share around the network: the frame's upload, statistics and flat-field
//! (the first stage), the probabilities' and mask's readback, GPU labelling of the mask, and the
//! staging of batches.

use super::*;

/// What both engines start with: the raw frame, its histogram and statistics, the probability map
/// and its staging buffer, and the first steps (the flat-field if set, then frame_stats).
pub(crate) struct FrameStage {
    pub(crate) raw: wgpu::Buffer,
    pub(crate) hist: wgpu::Buffer,
    pub(crate) stats: wgpu::Buffer,
    pub(crate) prob: wgpu::Buffer,
    pub(crate) mask: Option<wgpu::Buffer>,
    pub(crate) readback: Readback,
    pub(crate) staging: wgpu::Buffer,
    /// Readback of the flat-fielded frame, when a flat-field is set.
    pub(crate) raw_staging: Option<wgpu::Buffer>,
    pub(crate) steps: Vec<Step>,
}

/// What a plan's probability staging buffer holds — the probabilities in the format the GPU
/// wrote, then (fused engine) the GPU's mask — and how the host turns it into a
/// [`Segmentation`]'s probabilities and mask.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Readback {
    /// The format the GPU wrote.
    gpu: ProbFormat,
    /// The format the caller asked for (where it differs from `gpu`, rounded on the host).
    format: ProbFormat,
    /// Whether the GPU's mask follows the probabilities.
    mask: bool,
    pixels: usize,
}

impl Readback {
    fn prob_bytes(&self) -> u64 {
        self.gpu.bytes(self.pixels)
    }

    fn mask_bytes(&self) -> u64 {
        ProbFormat::U8.bytes(self.pixels)
    }

    /// The staging buffer's size.
    pub(crate) fn bytes(&self) -> u64 {
        self.prob_bytes() + if self.mask { self.mask_bytes() } else { 0 }
    }

    /// The probabilities and the mask (when the GPU wrote one or the host rounds the
    /// probabilities: then it is taken first, at `threshold`) from a staging buffer's bytes.
    pub(crate) fn decode(&self, bytes: &[u8], threshold: f32) -> (Vec<f32>, Option<Vec<u8>>) {
        let mut prob = self.gpu.decode(bytes, self.pixels);
        let at = self.prob_bytes() as usize;
        let mask = if self.mask {
            Some(bytes[at..at + self.pixels].to_vec())
        } else if self.format != self.gpu {
            Some(threshold_mask(&prob, threshold))
        } else {
            None
        };
        if self.format != self.gpu {
            for p in &mut prob {
                *p = self.format.quantize(*p);
            }
        }
        (prob, mask)
    }
}

impl Unet {
    /// The shared first stage of a plan for an `h × w` frame of `bits`-bit pixels, whose GPU
    /// writes the probabilities in `gpu` format and (`with_mask`) the mask.
    pub(crate) fn frame_stage(
        &self,
        h: usize,
        w: usize,
        bits: u32,
        gpu: ProbFormat,
        with_mask: bool,
    ) -> Result<FrameStage> {
        let ctx = &self.ctx;
        let words = (h * w).div_ceil(32 / bits as usize);
        let frame_bytes = (words * 4) as u64;
        let readback = Readback {
            gpu,
            format: self.prob_format,
            mask: with_mask,
            pixels: h * w,
        };
        let prob_bytes = readback.prob_bytes();
        if frame_bytes.max(prob_bytes) > ctx.max_binding_bytes() {
            return Err(Error::Shape(format!(
                "a {w}×{h} frame's probability map ({} MiB) exceeds the device's {} MiB storage binding",
                prob_bytes >> 20,
                ctx.max_binding_bytes() >> 20
            )));
        }
        let raw = ctx.storage("frame.raw", frame_bytes);
        let hist = ctx.storage("frame.histogram", 4 << bits);
        let stats = ctx.storage("frame.stats", 32);
        let prob = ctx.storage("prob", prob_bytes);
        let mask = with_mask.then(|| ctx.storage("mask", readback.mask_bytes()));
        let staging = ctx.staging("prob.staging", readback.bytes());
        let mut steps = Vec::new();
        let mut raw_staging = None;
        if let Some(flat) = &self.flat {
            let dispatch = flat.dispatch(ctx, &raw, w, h, bits)?;
            steps.push(Step {
                label: "flatfield".into(),
                flops: 0,
                bytes: 2 * frame_bytes,
                dispatch,
            });
            // As large as the frame buffer (storage buffers are rounded up to 16 bytes).
            raw_staging = Some(ctx.staging("frame.raw.staging", raw.size()));
        }
        let stats_params = FrameStatsParams {
            count: (h * w) as u32,
            bits,
            words: words as u32,
            _pad: 0,
        };
        let frame_stats = ctx.kernel::<FrameStats>(());
        let stats_group = frame_stats.bind(
            &ctx.device,
            "frame_stats",
            &[
                &raw,
                &hist,
                &stats,
                &ctx.uniform("frame_stats.params", &stats_params),
            ],
        );
        steps.push(Step {
            label: "frame_stats".into(),
            flops: 0,
            bytes: frame_bytes,
            dispatch: frame_stats.dispatch(stats_group, &stats_params),
        });
        Ok(FrameStage {
            raw,
            hist,
            stats,
            prob,
            mask,
            readback,
            staging,
            raw_staging,
            steps,
        })
    }
}

/// The network's mask and its clusters on the GPU ([`Unet::set_gpu_clusters`]): the probability
/// map thresholded into a packed mask (`threshold.wgsl`, p ≥ threshold), then labelled and
/// measured (`crate::clusters_gpu`) with weights max(0, median − p) read from the raw frame and its
/// statistics on the GPU.
pub(crate) struct MaskClusters {
    /// The threshold pass's parameters and bind group; `None` where the plan's last conv writes
    /// the mask itself (the fused engine).
    threshold: Option<(wgpu::Buffer, wgpu::BindGroup)>,
    size: (u32, u32),
    pub(crate) plan: crate::clusters_gpu::ClusterPlan,
    _mask: wgpu::Buffer,
}

impl MaskClusters {
    pub(super) fn new(ctx: &Context, plan: &Plan) -> Result<Self> {
        use crate::clusters_gpu::{ClusterPlan, WeightRule};
        let (h, w, bits) = plan.key;
        let (mask, threshold) = match &plan.mask {
            Some(mask) => (mask.clone(), None),
            None => {
                let mask = ctx.storage("mask", ProbFormat::U8.bytes(h * w));
                let params = ctx.uniform("mask.threshold.params", &ThresholdParams::default());
                let group = ctx.kernel::<Threshold>(()).bind(
                    &ctx.device,
                    "mask.threshold",
                    &[&plan.prob, &mask, &params],
                );
                (mask, Some((params, group)))
            }
        };
        let rule = WeightRule {
            source: crate::kernels::WeightSource::Frame { bits },
            // frame_stats.wgsl's stats[4]: the median, raw value units.
            offset_index: 4,
            above: false,
        };
        let clusters = ClusterPlan::new(
            ctx,
            w,
            h,
            crate::clusters::Connectivity::Eight,
            &mask,
            &plan.raw,
            &plan.stats,
            rule,
        )?;
        Ok(MaskClusters {
            threshold,
            size: (w as u32, h as u32),
            plan: clusters,
            _mask: mask,
        })
    }

    /// Records the threshold at `threshold` (unless the last conv wrote the mask) and the
    /// labelling after the network's steps.
    pub(super) fn record(&self, ctx: &Context, encoder: &mut wgpu::CommandEncoder, threshold: f32) {
        if let Some((params, group)) = &self.threshold {
            let p = ThresholdParams {
                w: self.size.0,
                h: self.size.1,
                border: 0,
                t: threshold,
                inclusive: 1,
                ..Default::default()
            };
            ctx.queue.write_buffer(params, 0, bytemuck::bytes_of(&p));
            let mut pass = encoder.begin_compute_pass(&Default::default());
            ctx.kernel::<Threshold>(()).record(&mut pass, group, &p);
        }
        self.plan.record(encoder);
    }
}

/// One frame's results as read back: probabilities, the delivered mask (see
/// [`Segmentation::mask_bytes`]) and, with a flat-field, the corrected frame.
pub(super) struct Delivered {
    pub(super) prob: Vec<f32>,
    pub(super) mask: Option<Vec<u8>>,
    pub(super) corrected: Option<Frame>,
}

/// The fused engine's statistics copy: `from` (frame_stats' output) into `to` (the first conv's
/// uniform) after the first `after` steps (flat-field, frame_stats) and before the rest.
pub(crate) struct StatsCopy {
    pub(crate) from: wgpu::Buffer,
    pub(crate) to: wgpu::Buffer,
    pub(crate) after: usize,
}

/// One frame's own buffers in a batch: its packed pixels, its probabilities' and (with a
/// flat-field) its corrected frame's staging buffers.
pub(crate) struct BatchSlot {
    pub(crate) upload: wgpu::Buffer,
    pub(crate) staging: wgpu::Buffer,
    pub(crate) raw_staging: Option<wgpu::Buffer>,
}

impl Plan {
    /// Grows the per-frame slots (of batches and streams) to at least `n`.
    pub(crate) fn ensure_slots(&mut self, ctx: &Context, n: usize) {
        while self.batch.len() < n {
            let i = self.batch.len();
            self.batch.push(BatchSlot {
                upload: ctx.storage(&format!("slot{i}.raw"), self.raw.size()),
                staging: ctx.staging(&format!("slot{i}.prob.staging"), self.staging.size()),
                raw_staging: self
                    .raw_staging
                    .as_ref()
                    .map(|r| ctx.staging(&format!("slot{i}.raw.staging"), r.size())),
            });
        }
    }

    /// Records one frame already in `raw`: cleared histogram, every step (the fused engine's two
    /// passes around the statistics copy), then the probabilities (and the flat-fielded frame)
    /// copied to the given staging buffers.
    pub(crate) fn record_frame(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        raw_staging: Option<&wgpu::Buffer>,
    ) {
        encoder.clear_buffer(&self.hist, 0, None);
        // The last conv ORs packed probabilities and the mask into these.
        if self.readback.gpu != ProbFormat::F32 {
            encoder.clear_buffer(&self.prob, 0, None);
        }
        if let Some(mask) = &self.mask {
            encoder.clear_buffer(mask, 0, None);
        }
        let run = |encoder: &mut wgpu::CommandEncoder, steps: &[Step]| {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for step in steps {
                step.record(&mut pass);
            }
        };
        match &self.stats_copy {
            // The fused engine needs the statistics in a uniform: two passes around the copy.
            Some(copy) => {
                let (first, rest) = self.steps.split_at(copy.after);
                run(encoder, first);
                self.copy_stats_before(copy.after, encoder);
                run(encoder, rest);
            }
            None => run(encoder, &self.steps),
        }
        // (Storage buffers are rounded up to 16 bytes: the readback's sizes, not the buffers'.)
        let prob_bytes = self.readback.prob_bytes();
        encoder.copy_buffer_to_buffer(&self.prob, 0, staging, 0, prob_bytes);
        if let Some(mask) = &self.mask {
            let mask_bytes = self.readback.mask_bytes();
            encoder.copy_buffer_to_buffer(mask, 0, staging, prob_bytes, mask_bytes);
        }
        if let Some(raw_staging) = raw_staging {
            encoder.copy_buffer_to_buffer(&self.raw, 0, raw_staging, 0, self.raw.size());
        }
    }

    /// Maps one frame's staging buffers: its probabilities and mask ([`Readback::decode`] at
    /// `threshold`) and, with a flat-field, the corrected frame.
    pub(super) fn read_back(
        &self,
        ctx: &Context,
        staging: &wgpu::Buffer,
        raw_staging: Option<&wgpu::Buffer>,
        frame: &Frame,
        threshold: f32,
    ) -> Result<Delivered> {
        let (h, w) = (frame.height, frame.width);
        let bytes: Vec<u8> = read_mapped(ctx, staging)?;
        let (prob, mask) = self.readback.decode(&bytes, threshold);
        let corrected = match raw_staging {
            Some(staging) => {
                let words: Vec<u32> = read_mapped(ctx, staging)?;
                Some(Frame::from_packed_words(w, h, frame.bits(), &words)?)
            }
            None => None,
        };
        Ok(Delivered {
            prob,
            mask,
            corrected,
        })
    }

    /// Before step `i`: copies the frame statistics into the fused engine's first-conv uniform if
    /// this is where the copy goes (no-op otherwise).
    pub(super) fn copy_stats_before(&self, i: usize, encoder: &mut wgpu::CommandEncoder) {
        if let Some(copy) = self.stats_copy.as_ref().filter(|c| c.after == i) {
            encoder.copy_buffer_to_buffer(&copy.from, 0, &copy.to, FrameParams::STATS_OFFSET, 32);
        }
    }
}
