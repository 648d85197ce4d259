//! `emunet bench`: what a user's own GPU does with a model: for each engine and storage precision
//! (per-operation f32, fused f32, fused f16), every dispatch's time, GFLOP/s and GB/s of minimal
//! traffic for one frame, then end-to-end latency (first frame, with planning and pipeline
//! compilation; steady state, the mean and best of K more frames) and throughput, on a simulated
//! nominal frame of the chosen size. Engines that cannot run the model are reported as skipped.

use crate::simulate::{Preset, SimParams, View};
use emunet::error::Result;
use emunet::gpu::Context;
use emunet::kernels::Precision;
use emunet::model::Model;
use emunet::unet::{Engine, Unet};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// One dispatch of one engine's plan.
#[derive(Clone, Debug, Serialize)]
pub struct KernelTime {
    pub label: String,
    pub ms: f64,
    pub gflops: f64,
    pub gbps: f64,
}

/// One engine and precision.
#[derive(Clone, Debug, Serialize)]
pub struct EngineRun {
    pub engine: String,
    pub precision: String,
    /// Why it did not run (the model or frame does not allow it), if it did not.
    pub skipped: Option<String>,
    pub first_frame_ms: f64,
    pub steady_ms_mean: f64,
    pub steady_ms_best: f64,
    pub frames_per_second: f64,
    /// With a batch size N > 1: the wall time of one `segment_batch` of N frames, per frame (the
    /// best of `frames` batches), and the frames per second it gives.
    pub batch_ms_per_frame: Option<f64>,
    pub batch_frames_per_second: Option<f64>,
    /// How the per-dispatch times were taken.
    pub kernel_timing: String,
    pub kernels: Vec<KernelTime>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub adapter: String,
    pub backend: String,
    pub device_type: String,
    pub model: String,
    pub width: usize,
    pub height: usize,
    /// Frames timed in steady state per engine.
    pub frames: usize,
    /// Frames per `segment_batch` call (1: no batch timing).
    pub batch: usize,
    pub runs: Vec<EngineRun>,
}

/// Benchmarks `model` on a `width × height` simulated nominal frame, `frames` steady-state frames
/// per engine, and (batch > 1) `frames` batches of `batch` frames; `progress` hears which engine
/// runs.
pub fn run(
    ctx: Arc<Context>,
    model: &Model,
    (width, height): (usize, usize),
    frames: usize,
    batch: usize,
    mut progress: impl FnMut(&str),
) -> Result<BenchReport> {
    let mut params = SimParams::preset(Preset::Nominal);
    (params.width, params.height) = (width, height);
    let frame = View::new(&params, 1, 0)?.render("bench".into(), 20.0).image;
    let cpu = ctx.info.device_type == wgpu::DeviceType::Cpu;
    let timestamps = ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) && !cpu;
    let mut runs = Vec::new();
    for (engine, precision) in [
        (Engine::Ops, Precision::F32),
        (Engine::Fused, Precision::F32),
        (Engine::Fused, Precision::F16),
    ] {
        progress(&format!("{engine:?} engine, {precision:?} activations"));
        let mut run = EngineRun {
            engine: format!("{engine:?}").to_lowercase(),
            precision: format!("{precision:?}").to_lowercase(),
            skipped: None,
            first_frame_ms: 0.0,
            steady_ms_mean: 0.0,
            steady_ms_best: 0.0,
            frames_per_second: 0.0,
            batch_ms_per_frame: None,
            batch_frames_per_second: None,
            kernel_timing: if timestamps {
                "GPU timestamps".into()
            } else {
                "wall time, each dispatch submitted alone".into()
            },
            kernels: Vec::new(),
        };
        let mut unet = Unet::new(ctx.clone(), model)?;
        unet.set_engine(engine);
        unet.set_precision(precision);
        let start = Instant::now();
        match unet.segment(&frame) {
            Ok(_) => run.first_frame_ms = start.elapsed().as_secs_f64() * 1e3,
            Err(e) => {
                run.skipped = Some(e.to_string());
                runs.push(run);
                continue;
            }
        }
        let mut times = Vec::new();
        for _ in 0..frames.max(1) {
            times.push(unet.segment(&frame)?.elapsed.as_secs_f64() * 1e3);
        }
        run.steady_ms_mean = times.iter().sum::<f64>() / times.len() as f64;
        run.steady_ms_best = times.iter().cloned().fold(f64::INFINITY, f64::min);
        run.frames_per_second = 1e3 / run.steady_ms_mean;
        if batch > 1 {
            let many = vec![frame.clone(); batch];
            unet.segment_batch(&many)?; // plan the batch's buffers outside the measurement
            let mut best = f64::INFINITY;
            for _ in 0..frames.max(1) {
                let start = Instant::now();
                unet.segment_batch(&many)?;
                best = best.min(start.elapsed().as_secs_f64() * 1e3 / batch as f64);
            }
            run.batch_ms_per_frame = Some(best);
            run.batch_frames_per_second = Some(1e3 / best);
        }
        let steps = if timestamps {
            unet.profile(&frame)?
        } else {
            unet.profile_wall(&frame)?
        };
        run.kernels = steps
            .iter()
            .map(|s| KernelTime {
                label: s.label.clone(),
                ms: s.seconds * 1e3,
                gflops: s.flops as f64 / s.seconds.max(1e-12) / 1e9,
                gbps: s.bytes as f64 / s.seconds.max(1e-12) / 1e9,
            })
            .collect();
        runs.push(run);
    }
    Ok(BenchReport {
        adapter: ctx.info.name.clone(),
        backend: format!("{:?}", ctx.info.backend),
        device_type: format!("{:?}", ctx.info.device_type),
        model: format!(
            "UNet({}, {}), {} normalisation",
            model.depth,
            model.channels,
            model.normalization().name()
        ),
        width,
        height,
        frames,
        batch,
        runs,
    })
}

impl BenchReport {
    /// The report as the tables `emunet bench` prints.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{} ({}, {}), {} on a {}×{} simulated nominal frame, {} steady-state frame(s) per engine\n",
            self.adapter,
            self.backend,
            self.device_type,
            self.model,
            self.width,
            self.height,
            self.frames
        );
        for r in &self.runs {
            out += &format!("\n{} engine, {} activations", r.engine, r.precision);
            if let Some(why) = &r.skipped {
                out += &format!(": skipped ({why})\n");
                continue;
            }
            let batch = match r.batch_ms_per_frame {
                Some(ms) => format!(
                    "; batches of {}: {:.1} ms a frame, {:.2} frames/s",
                    self.batch,
                    ms,
                    1e3 / ms
                ),
                None => String::new(),
            };
            out += &format!(
                ": first frame {:.1} ms, steady state {:.1} ms (best {:.1}), {:.2} frames/s{batch}\n  per dispatch ({}):\n",
                r.first_frame_ms,
                r.steady_ms_mean,
                r.steady_ms_best,
                r.frames_per_second,
                r.kernel_timing
            );
            for k in &r.kernels {
                out += &format!(
                    "  {:<28} {:>9.3} ms {:>9.2} GFLOP/s {:>8.2} GB/s\n",
                    k.label, k.ms, k.gflops, k.gbps
                );
            }
        }
        out
    }
}
