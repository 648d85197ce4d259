//! `emunet flatfield`: the camera's fixed pattern (column offsets, smooth gain map) estimated
//! from frames of one run, for `segment`/`classic --flatfield`.

use crate::common::{collect_frames, progress_bar};
use emunet::Frame;
use emunet::flatfield::FlatField;
use std::path::PathBuf;
use std::process::ExitCode;

/// `emunet flatfield`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Output file (.safetensors, format emunet-flatfield/1).
    #[arg(long)]
    pub out: PathBuf,
    /// Frames (PNG or TIFF, 8/16-bit, one size) or folders of frames.
    #[arg(required = true)]
    pub frames: Vec<PathBuf>,
}

/// Reads the frames (a bad one is reported and left out), estimates and saves the flat-field.
pub fn run(args: Args) -> emunet::Result<ExitCode> {
    let Args {
        out,
        frames: inputs,
    } = args;
    let paths = collect_frames(&inputs);
    let bar = progress_bar(paths.len() as u64, "frames read");
    let mut frames = Vec::with_capacity(paths.len());
    for path in &paths {
        match Frame::load(path) {
            Ok((f, _)) => frames.push(f),
            Err(e) => bar.suspend(|| eprintln!("error: {e}; frame left out")),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let flat = FlatField::estimate(&frames)?;
    flat.save(&out)?;
    let sigma = |v: &[f32]| {
        let m = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        (v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let (gmin, gmax) = flat
        .gain
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &g| (a.min(g), b.max(g)));
    println!(
        "wrote {}: flat-field of {} {}×{} frame(s): column pattern σ {:.2}, gain {:.3}–{:.3}",
        out.display(),
        frames.len(),
        flat.width,
        flat.height,
        sigma(&flat.offset),
        gmin,
        gmax
    );
    Ok(ExitCode::SUCCESS)
}
