//! The classical station pipeline (docs/spec/emulsion.md, "emunet's classical pipeline, exactly"):
//! equalise `p' = p · 220 / median(p)`, a zero-sum FIR high-pass filter (sign chosen so dark
//! grains are positive), a fixed threshold or one tuned per frame to a target cluster count,
//! a border, connected components, area cuts. Cluster positions are weighted by `r − T`; the even
//! 6×6 kernel's positions are shifted by −0.5 px so they refer to grain centres.
//!
//! [`Classic`] runs every stage as WGSL shaders: statistics (median), filter, threshold, the
//! labelling and cluster sums ([`emunet::clusters_gpu`]) and the area cut, reading back the
//! response, the mask and the cluster table; [`mod@reference`] is the plain CPU version every GPU
//! stage is tested against.

use emunet::clusters::{self, Cluster, Connectivity};
use emunet::clusters_gpu::{ClusterPlan, Labelling, WeightRule};
use emunet::error::{Error, Result};
use emunet::frame::Frame;
use emunet::gpu::{Context, read_mapped};
use emunet::kernels::{
    AreaCutParams, Dispatch, FirFilter, FirFilterParams, FirTaps, FrameStats, FrameStatsParams,
    MaskAreaCut, Threshold, ThresholdParams, WeightSource,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The FIR kernels of today's stations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FilterKernel {
    /// FEDRA's 6×6: outer ring +4, inner 4×4 −5, divided by 12; taps at offsets −3..+2.
    #[default]
    Fedra6x6,
    /// 3×3 Laplacian: 8 neighbours +1, centre −8.
    Laplace3x3,
    /// 5×5: ring +4, inner 3×3 −7 with centre −8.
    Ring5x5,
    /// 5×5 Mexican hat: ring +1; inner 3×3 corners −1, edges −2, centre −4.
    Hat5x5,
}

emunet::choice!(FilterKernel {
    Fedra6x6 => "fedra6x6",
    Laplace3x3 => "laplace3x3",
    Ring5x5 => "ring5x5",
    Hat5x5 => "hat5x5",
});

impl FilterKernel {
    /// (k, offset of tap 0, row-major integer taps, scale, position shift). Integer taps keep
    /// the filter sum exact on the GPU (|Σ| < 2^24 even for 16-bit frames); the scale and the
    /// equalisation gain are applied once to the sum.
    pub fn taps(self) -> (usize, i32, Vec<i32>, f64, (f64, f64)) {
        let ring_core = |k: usize, ring: i32, core: &dyn Fn(usize, usize) -> i32| {
            let mut t = vec![ring; k * k];
            for v in 1..k - 1 {
                for u in 1..k - 1 {
                    t[v * k + u] = core(u, v);
                }
            }
            t
        };
        match self {
            FilterKernel::Fedra6x6 => {
                (6, -3, ring_core(6, 4, &|_, _| -5), 1.0 / 12.0, (-0.5, -0.5))
            }
            FilterKernel::Laplace3x3 => (3, -1, ring_core(3, 1, &|_, _| -8), 1.0, (0.0, 0.0)),
            FilterKernel::Ring5x5 => (
                5,
                -2,
                ring_core(5, 4, &|u, v| if (u, v) == (2, 2) { -8 } else { -7 }),
                1.0,
                (0.0, 0.0),
            ),
            FilterKernel::Hat5x5 => (
                5,
                -2,
                // Centre −4, edge neighbours −2, corners −1 (by distance from the centre).
                ring_core(5, 1, &|u, v| match u.abs_diff(2) + v.abs_diff(2) {
                    0 => -4,
                    1 => -2,
                    _ => -1,
                }),
                1.0,
                (0.0, 0.0),
            ),
        }
    }
}

/// How the threshold is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThresholdRule {
    /// A fixed cut on the filter response.
    Fixed(f32),
    /// Tuned per frame so it holds about this many clusters of area ≥ 4 (ESS aims at 2,200).
    TargetClusters(usize),
}

/// The pipeline's settings; `Default` is FEDRA's filter, a fixed threshold of 50, a 4 px border,
/// 8-connectivity and areas 2–64 px.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassicParams {
    pub kernel: FilterKernel,
    pub threshold: ThresholdRule,
    pub border: usize,
    pub min_area: usize,
    pub max_area: usize,
    pub connectivity: Connectivity,
    pub equalise: bool,
}

impl Default for ClassicParams {
    fn default() -> Self {
        ClassicParams {
            kernel: FilterKernel::Fedra6x6,
            threshold: ThresholdRule::Fixed(DEFAULT_THRESHOLD),
            border: 4,
            min_area: 2,
            max_area: 64,
            connectivity: Connectivity::Eight,
            equalise: true,
        }
    }
}

/// The default fixed threshold for FEDRA's filter, in /12 units on the equalised frame: FEDRA's
/// online default, and the best balance of efficiency and purity on nominal simulated frames.
pub const DEFAULT_THRESHOLD: f32 = 50.0;

/// What the pipeline produced for one frame.
#[derive(Clone, Debug)]
pub struct ClassicResult {
    pub width: usize,
    pub height: usize,
    /// The filter response r.
    pub response: Vec<f32>,
    /// The threshold used (the tuned one for `TargetClusters`).
    pub threshold: f32,
    /// 0/255 per pixel: pixels of the clusters kept by the area cuts.
    pub mask: Vec<u8>,
    pub clusters: Vec<Cluster>,
    pub elapsed: Duration,
    /// Whether the labelling and cluster sums ran on the GPU ([`Labelling`]).
    pub gpu_labelling: bool,
}

/// Plain CPU reference of each stage.
pub mod reference {
    use super::*;

    /// The equalisation gain: 220 / median, or 255 / max_value when off or the median is below
    /// 64 in 8-bit units.
    pub fn gain(frame: &Frame, equalise: bool) -> f64 {
        let max = frame.max_value() as f64;
        let median = emunet::reference::frame_median(frame) as f64;
        if equalise && median * 255.0 / max >= 64.0 {
            220.0 / median
        } else {
            255.0 / max
        }
    }

    /// The filter response of the equalised frame: r = gain · scale · Σ taps · p (f64).
    pub fn fir_filter(frame: &Frame, kernel: FilterKernel, equalise: bool) -> Vec<f32> {
        let (k, offset, taps, scale, _) = kernel.taps();
        let (w, h) = (frame.width as i64, frame.height as i64);
        let gain = gain(frame, equalise) * scale;
        let mut out = vec![0.0f32; frame.len()];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0f64;
                for v in 0..k as i64 {
                    let sy = (y + v + offset as i64).clamp(0, h - 1);
                    for u in 0..k as i64 {
                        let sx = (x + u + offset as i64).clamp(0, w - 1);
                        acc += taps[(v * k as i64 + u) as usize] as f64
                            * frame.value((sy * w + sx) as usize) as f64;
                    }
                }
                out[(y * w + x) as usize] = (acc * gain) as f32;
            }
        }
        out
    }

    /// 255 where r > t and the pixel is at least `border` px from every edge, else 0.
    pub fn threshold(r: &[f32], w: usize, h: usize, t: f32, border: usize) -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let inside = x >= border && y >= border && x + border < w && y + border < h;
                if inside && r[i] > t { 255 } else { 0 }
            })
            .collect()
    }

    /// The whole pipeline on the CPU.
    pub fn run(frame: &Frame, params: &ClassicParams) -> ClassicResult {
        let start = Instant::now();
        let (w, h) = (frame.width, frame.height);
        let r = fir_filter(frame, params.kernel, params.equalise);
        let cut = |t: f32| threshold(&r, w, h, t, params.border);
        let mut count_at = |t: f32| Ok(tuning_count(&cut(t), w, h, params.connectivity));
        let t = choose_threshold(params, &r, &mut count_at).expect("the CPU count cannot fail");
        let mask = cut(t);
        finish(w, h, r, t, mask, params, start)
    }
}

/// The clusters of area ≥ 4 in `mask`: what a target cluster count counts.
fn tuning_count(mask: &[u8], w: usize, h: usize, connectivity: Connectivity) -> usize {
    let (labels, n) = clusters::label(mask, w, h, connectivity);
    let mut area = vec![0usize; n];
    for &l in labels.iter().filter(|&&l| l != 0) {
        area[l as usize - 1] += 1;
    }
    area.iter().filter(|&&a| a >= 4).count()
}

/// Applies the rule: the fixed threshold, or a bisection on t for the target cluster count
/// (`count_at(t)`: the clusters of area ≥ 4 at threshold t, as stations tune it).
fn choose_threshold(
    params: &ClassicParams,
    r: &[f32],
    count_at: &mut dyn FnMut(f32) -> Result<usize>,
) -> Result<f32> {
    let target = match params.threshold {
        ThresholdRule::Fixed(t) => return Ok(t),
        ThresholdRule::TargetClusters(n) => n,
    };
    // Raising t shrinks clusters; the count of clusters of area ≥ 4 falls (almost) monotonically.
    let (mut lo, mut hi) = (0.0f32, r.iter().fold(1.0f32, |m, &v| m.max(v)));
    let mut best = (usize::MAX, hi);
    for _ in 0..24 {
        let mid = 0.5 * (lo + hi);
        let n = count_at(mid)?;
        let miss = n.abs_diff(target);
        if miss < best.0 {
            best = (miss, mid);
        }
        if n > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(best.1)
}

/// Labels the mask, weighs positions by r − t, applies the area cuts, and keeps in the mask
/// only the pixels of the clusters kept.
fn finish(
    w: usize,
    h: usize,
    response: Vec<f32>,
    t: f32,
    mut mask: Vec<u8>,
    params: &ClassicParams,
    start: Instant,
) -> ClassicResult {
    let (_, _, _, _, shift) = params.kernel.taps();
    let weight: Vec<f32> = response.iter().map(|&v| (v - t).max(0.0)).collect();
    let (labels, n) = clusters::label(&mask, w, h, params.connectivity);
    let all = clusters::measure(&labels, n, w, Some(&weight), shift);
    let keep: Vec<bool> = all
        .iter()
        .map(|c| (params.min_area..=params.max_area).contains(&c.area))
        .collect();
    for (m, &l) in mask.iter_mut().zip(&labels) {
        if l != 0 && !keep[l as usize - 1] {
            *m = 0;
        }
    }
    let clusters = clusters::filter_area(all, params.min_area, params.max_area);
    ClassicResult {
        width: w,
        height: h,
        response,
        threshold: t,
        mask,
        clusters,
        elapsed: start.elapsed(),
        gpu_labelling: false,
    }
}

struct Plan {
    key: (usize, usize, u32, FilterKernel),
    raw: wgpu::Buffer,
    hist: wgpu::Buffer,
    response: wgpu::Buffer,
    mask: wgpu::Buffer,
    threshold_params: wgpu::Buffer,
    response_staging: wgpu::Buffer,
    mask_staging: wgpu::Buffer,
    stats: Dispatch,
    filter: Dispatch,
    threshold_group: wgpu::BindGroup,
    flat: Option<Dispatch>,
    /// The threshold t, read by the cluster sums (weights r − t).
    offset: wgpu::Buffer,
    clusters: ClusterPlan,
    cut: Dispatch,
}

/// The classical pipeline on the GPU.
pub struct Classic {
    ctx: Arc<Context>,
    pub params: ClassicParams,
    labelling: Labelling,
    flat: Option<emunet::flatfield::GpuFlatField>,
    plan: Option<Plan>,
}

impl Classic {
    pub fn new(ctx: Arc<Context>, params: ClassicParams) -> Self {
        Classic {
            ctx,
            params,
            labelling: Labelling::Auto,
            flat: None,
            plan: None,
        }
    }

    /// Where the mask is labelled and its clusters measured (the results are identical).
    pub fn set_labelling(&mut self, labelling: Labelling) {
        self.labelling = labelling;
    }

    /// Takes `flat`'s fixed pattern out of every following frame on the GPU (`flatfield.wgsl`)
    /// before the filter; `None` turns it off. Frames of another size are refused.
    pub fn set_flatfield(&mut self, flat: Option<&emunet::flatfield::FlatField>) {
        self.flat = flat.map(|f| emunet::flatfield::GpuFlatField::upload(&self.ctx, f));
        self.plan = None;
    }

    fn build_plan(&self, frame: &Frame) -> Result<Plan> {
        let ctx = &self.ctx;
        let dev = &ctx.device;
        let (w, h, bits) = (frame.width, frame.height, frame.bits());
        let words = frame.len().div_ceil(32 / bits as usize);
        if (frame.len() * 4) as u64 > ctx.max_binding_bytes() {
            return Err(Error::Shape(format!(
                "a {w}×{h} frame's response exceeds the device's storage binding"
            )));
        }
        let raw = ctx.storage("classic.raw", words as u64 * 4);
        let hist = ctx.storage("classic.histogram", 4 << bits);
        let stats = ctx.storage("classic.stats", 32);
        let (kk, offset, taps, scale, _) = self.params.kernel.taps();
        let taps = FirTaps::pack(kk, &taps).ok_or_else(|| {
            Error::Shape(format!(
                "the GPU filter takes kernels up to 6×6, not {kk}×{kk}"
            ))
        })?;
        let taps = ctx.uniform("classic.taps", &taps);
        let response = ctx.storage("classic.response", (frame.len() * 4) as u64);
        let mask = ctx.storage("classic.mask", frame.len().div_ceil(4) as u64 * 4);
        let stats_params = FrameStatsParams {
            count: frame.len() as u32,
            bits,
            words: words as u32,
            _pad: 0,
        };
        let filter_params = FirFilterParams {
            w: w as u32,
            h: h as u32,
            bits,
            k: kk as u32,
            offset,
            equalise: self.params.equalise as u32,
            scale: scale as f32,
            _pad: 0,
        };
        let threshold_params = ctx.uniform("classic.threshold.params", &ThresholdParams::default());
        let frame_stats = ctx.kernel::<FrameStats>(());
        let stats_group = frame_stats.bind(
            dev,
            "classic.frame_stats",
            &[
                &raw,
                &hist,
                &stats,
                &ctx.uniform("classic.stats.params", &stats_params),
            ],
        );
        let fir_filter = ctx.kernel::<FirFilter>(());
        let filter_group = fir_filter.bind(
            dev,
            "classic.fir_filter",
            &[
                &raw,
                &stats,
                &taps,
                &response,
                &ctx.uniform("classic.filter.params", &filter_params),
            ],
        );
        let threshold_group = ctx.kernel::<Threshold>(()).bind(
            dev,
            "classic.threshold",
            &[&response, &mask, &threshold_params],
        );
        let flat = match &self.flat {
            Some(f) => Some(f.dispatch(ctx, &raw, w, h, bits)?),
            None => None,
        };
        let offset = ctx.storage("classic.threshold", 16);
        let rule = WeightRule {
            source: WeightSource::Values,
            offset_index: 0,
            above: true,
        };
        let clusters = ClusterPlan::new(
            ctx,
            w,
            h,
            self.params.connectivity,
            &mask,
            &response,
            &offset,
            rule,
        )?;
        let clamp = |a: usize| a.min(u32::MAX as usize) as u32;
        let cut_params = AreaCutParams {
            w: w as u32,
            h: h as u32,
            min_area: clamp(self.params.min_area),
            max_area: clamp(self.params.max_area),
        };
        let area_cut = ctx.kernel::<MaskAreaCut>(());
        let cut_group = area_cut.bind(
            dev,
            "classic.area_cut",
            &[
                &clusters.labels,
                &clusters.table,
                &mask,
                &ctx.uniform("classic.area_cut.params", &cut_params),
            ],
        );
        let stats = frame_stats.dispatch(stats_group, &stats_params);
        let filter = fir_filter.dispatch(filter_group, &filter_params);
        let cut = area_cut.dispatch(cut_group, &cut_params);
        Ok(Plan {
            offset,
            clusters,
            cut,
            flat,
            key: (w, h, bits, self.params.kernel),
            response_staging: ctx.staging("classic.response.staging", response.size()),
            mask_staging: ctx.staging("classic.mask.staging", mask.size()),
            raw,
            hist,
            response,
            mask,
            threshold_params,
            stats,
            filter,
            threshold_group,
        })
    }

    /// Runs the pipeline on one frame.
    pub fn run(&mut self, frame: &Frame) -> Result<ClassicResult> {
        let key = (frame.width, frame.height, frame.bits(), self.params.kernel);
        if self.plan.as_ref().is_none_or(|p| p.key != key) {
            self.plan = None;
            let plan = self
                .ctx
                .checked("planning the classical pipeline", || self.build_plan(frame))??;
            self.plan = Some(plan);
        }
        let start = Instant::now();
        let plan = self.plan.as_ref().expect("plan was just built");
        let ctx = &self.ctx;
        let (w, h) = (frame.width, frame.height);
        let params = self.params;
        let on_gpu = self.labelling.on_gpu(ctx);
        // A fixed threshold needs nothing from the host: the whole pipeline is one submit.
        let fixed = match params.threshold {
            ThresholdRule::Fixed(t) => Some(t),
            ThresholdRule::TargetClusters(_) => None,
        };
        ctx.checked("running the classical pipeline", || {
            ctx.queue
                .write_buffer(&plan.raw, 0, bytemuck::cast_slice(&frame.packed_words()));
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            encoder.clear_buffer(&plan.hist, 0, None);
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                if let Some(flat) = &plan.flat {
                    flat.record(&mut pass);
                }
                plan.stats.record(&mut pass);
                plan.filter.record(&mut pass);
            }
            encoder.copy_buffer_to_buffer(
                &plan.response,
                0,
                &plan.response_staging,
                0,
                plan.response.size(),
            );
            if let Some(t) = fixed {
                self.record_threshold(&mut encoder, w, h, t, on_gpu, true);
            }
            ctx.submit(encoder);
        })?;
        let mut response: Vec<f32> = read_mapped(ctx, &plan.response_staging)?;
        response.truncate(w * h);
        let shift = params.kernel.taps().4;
        let t = match fixed {
            Some(t) => t,
            None => {
                let mut count_at = |t: f32| {
                    self.submit_threshold(w, h, t, on_gpu, false)?;
                    let plan = self.plan.as_ref().expect("plan was just built");
                    Ok(if on_gpu {
                        let found = plan.clusters.read(ctx, shift)?;
                        found.iter().filter(|c| c.area >= 4).count()
                    } else {
                        let mask: Vec<u8> = read_mapped(ctx, &plan.mask_staging)?;
                        tuning_count(&mask[..w * h], w, h, params.connectivity)
                    })
                };
                let t = choose_threshold(&params, &response, &mut count_at)?;
                self.submit_threshold(w, h, t, on_gpu, true)?;
                t
            }
        };
        let plan = self.plan.as_ref().expect("plan was just built");
        let all = if on_gpu {
            Some(plan.clusters.read(ctx, shift)?)
        } else {
            None
        };
        let mut mask: Vec<u8> = read_mapped(ctx, &plan.mask_staging)?;
        mask.truncate(w * h);
        let Some(all) = all else {
            return Ok(finish(w, h, response, t, mask, &params, start));
        };
        Ok(ClassicResult {
            width: w,
            height: h,
            response,
            threshold: t,
            mask,
            clusters: clusters::filter_area(all, params.min_area, params.max_area),
            elapsed: start.elapsed(),
            gpu_labelling: true,
        })
    }

    /// Records thresholding the response at `t`; with `on_gpu` labelling and measuring the mask
    /// there (weights r − t) and, when `last`, the area cut; and the mask's copy to its staging
    /// buffer whenever the host needs it (host labelling, or the last threshold).
    fn record_threshold(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        w: usize,
        h: usize,
        t: f32,
        on_gpu: bool,
        last: bool,
    ) {
        let plan = self.plan.as_ref().expect("run builds the plan first");
        let ctx = &self.ctx;
        let p = ThresholdParams {
            w: w as u32,
            h: h as u32,
            border: self.params.border as u32,
            t,
            ..Default::default()
        };
        ctx.queue
            .write_buffer(&plan.threshold_params, 0, bytemuck::bytes_of(&p));
        ctx.queue
            .write_buffer(&plan.offset, 0, bytemuck::bytes_of(&[t; 4]));
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            ctx.kernel::<Threshold>(())
                .record(&mut pass, &plan.threshold_group, &p);
        }
        if on_gpu {
            plan.clusters.record(encoder);
            if last {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                plan.cut.record(&mut pass);
            }
        }
        if last || !on_gpu {
            encoder.copy_buffer_to_buffer(&plan.mask, 0, &plan.mask_staging, 0, plan.mask.size());
        }
    }

    /// [`Classic::record_threshold`] in a submit of its own.
    fn submit_threshold(&self, w: usize, h: usize, t: f32, on_gpu: bool, last: bool) -> Result<()> {
        let ctx = &self.ctx;
        ctx.checked("running the classical threshold and labelling", || {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            self.record_threshold(&mut encoder, w, h, t, on_gpu, last);
            ctx.submit(encoder);
        })
    }
}
