//! `emunet bench`: each engine's time per dispatch, latency and throughput on this machine's
//! adapter, on a simulated nominal frame.

use crate::common::{at_least_one, frame_size};
use emunet::{Context, Model};
use indicatif::ProgressBar;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `emunet bench`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Weights file; default: the shipped model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Frame size WIDTHxHEIGHT.
    #[arg(long, value_parser = frame_size, default_value = "1280x1024")]
    pub size: (usize, usize),
    /// Steady-state frames timed per engine.
    #[arg(long, default_value_t = 5)]
    pub frames: usize,
    /// Also time batches of N frames in one submit (Unet::segment_batch).
    #[arg(long, value_parser = at_least_one, default_value_t = 1)]
    pub batch: usize,
    /// Also write the report as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs the benchmark with a spinner, prints the report and writes it as JSON when asked.
pub fn run(args: Args) -> emunet::Result<ExitCode> {
    let Args {
        weights,
        size: (width, height),
        frames,
        batch,
        json,
    } = args;
    let (weights, json) = (weights.as_deref(), json.as_deref());
    let model = match weights {
        Some(path) => Model::load(path)?,
        None => Model::shipped()?,
    };
    let ctx = Arc::new(Context::new()?);
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let report = emunet_tools::bench::run(ctx, &model, (width, height), frames, batch, |what| {
        bar.set_message(format!("benchmarking {what}"))
    })?;
    bar.finish_and_clear();
    print!("{}", report.text());
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("report serialises");
        emunet::model::write_atomic(path, text.as_bytes())?;
        println!("\nwrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
