//! The `emunet` command line: `info`, `init`, `segment`.

use clap::{Parser, Subcommand};
use emunet::{Context, Frame, Model, Unet};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "emunet",
    version,
    about = "Find clusters in nuclear-emulsion frames with a U-Net on the GPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the GPU adapter emunet picks (EMUNET_ADAPTER=<substring> picks by name), its limits
    /// and optional features.
    Info,
    /// Write a freshly initialised (He-normal) UNet(D, C) weights file.
    Init {
        /// Encoder depth D (number of 2×2 poolings); frames must be at least 2^D on a side.
        #[arg(long, default_value_t = 4)]
        depth: usize,
        /// Base channel count C (level l has C·2^l channels).
        #[arg(long, default_value_t = 16)]
        channels: usize,
        /// Seed of the initialisation.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output weights file (.safetensors).
        #[arg(long)]
        out: PathBuf,
    },
    /// Segment frames: writes DIR/<stem>.mask.png (0/255) and DIR/<stem>.prob.npy (float32 H×W).
    Segment {
        /// Weights file (.safetensors, format emunet-unet/1).
        #[arg(long)]
        weights: PathBuf,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Probability threshold for the mask (default: the weights file's).
        #[arg(long)]
        threshold: Option<f32>,
        /// Also print the GPU time of every dispatch for the first frame (timestamp queries).
        #[arg(long)]
        profile: bool,
        /// Frames (PNG or TIFF, 8/16-bit) or folders of frames.
        #[arg(required = true)]
        frames: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    quiet_wayland_probe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info => info(),
        Command::Init {
            depth,
            channels,
            seed,
            out,
        } => init(depth, channels, seed, &out),
        Command::Segment {
            weights,
            out,
            threshold,
            profile,
            frames,
        } => segment(&weights, &out, threshold, profile, &frames),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Without XDG_RUNTIME_DIR, libwayland-client (loaded by the Vulkan driver's window-system layer)
/// prints "error: XDG_RUNTIME_DIR is invalid" while the adapter is opened, although emunet draws
/// nothing. Pointing it at an empty private folder keeps headless runs quiet.
fn quiet_wayland_probe() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir().join("emunet-xdg-runtime");
        if std::fs::create_dir_all(&dir).is_ok() {
            // SAFETY: called first thing in main, before any other thread exists.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    }
}

fn info() -> emunet::Result<ExitCode> {
    let ctx = Context::new()?;
    println!("{}", ctx.describe());
    Ok(ExitCode::SUCCESS)
}

fn init(depth: usize, channels: usize, seed: u64, out: &Path) -> emunet::Result<ExitCode> {
    let model = Model::init_he(depth, channels, seed)?;
    model.save(out)?;
    println!(
        "wrote {} : UNet({depth}, {channels}), {} parameters, He-normal init, seed {seed}",
        out.display(),
        model.parameter_count()
    );
    Ok(ExitCode::SUCCESS)
}

/// Expands folders into their PNG/TIFF files (sorted); keeps files as given.
fn collect_frames(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let is_image = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "tif" | "tiff"))
    };
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(input)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && is_image(p))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(input.clone());
        }
    }
    out
}

fn segment(
    weights: &Path,
    out: &Path,
    threshold: Option<f32>,
    profile: bool,
    inputs: &[PathBuf],
) -> emunet::Result<ExitCode> {
    let model = Model::load(weights)?;
    let frames = collect_frames(inputs);
    if frames.is_empty() {
        eprintln!("error: no PNG or TIFF frames found in {inputs:?}");
        return Ok(ExitCode::FAILURE);
    }
    std::fs::create_dir_all(out).map_err(|e| emunet::Error::Io {
        path: out.to_path_buf(),
        source: e,
    })?;
    let ctx = Arc::new(Context::new()?);
    let mut unet = Unet::new(ctx.clone(), &model)?;
    if let Some(t) = threshold {
        unet.set_threshold(t)?;
    }
    eprintln!(
        "UNet({}, {}) on {} ({:?}), threshold {}",
        model.depth, model.channels, ctx.info.name, ctx.info.backend, unet.threshold
    );
    if profile {
        print_profile(&mut unet, &frames[0])?;
    }
    let bar = ProgressBar::new(frames.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} frames  {elapsed} (eta {eta})  {msg}")
            .expect("valid template"),
    );
    let (mut ok, mut failed, mut total_ms) = (0usize, 0usize, 0.0f64);
    for path in &frames {
        match segment_one(&mut unet, path, out) {
            Ok((line, ms)) => {
                ok += 1;
                total_ms += ms;
                bar.suspend(|| println!("{line}"));
            }
            Err(e) => {
                failed += 1;
                // Name the frame unless the error already does.
                let shown = path.display().to_string();
                let msg = e.to_string();
                if msg.contains(&shown) {
                    bar.suspend(|| eprintln!("error: {msg}"));
                } else {
                    bar.suspend(|| eprintln!("error: {shown}: {msg}"));
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "{ok} frame(s) segmented, {failed} failed{}",
        if ok > 0 {
            format!(
                ", {:.1} ms per frame on average (first frame includes planning)",
                total_ms / ok as f64
            )
        } else {
            String::new()
        }
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints every dispatch's GPU time for one frame, and the total.
fn print_profile(unet: &mut Unet, path: &Path) -> emunet::Result<()> {
    let (frame, _) = Frame::load(path)?;
    let times = unet.profile(&frame)?;
    let line = |label: &str, seconds: f64, flops: u64| {
        println!(
            "  {label:<28} {:>9.3} ms  {:>7.2} GFLOP/s",
            seconds * 1e3,
            flops as f64 / seconds.max(1e-12) / 1e9
        )
    };
    println!("GPU time per dispatch ({}):", path.display());
    for t in &times {
        line(&t.label, t.seconds, t.flops);
    }
    let total: f64 = times.iter().map(|t| t.seconds).sum();
    line("total", total, times.iter().map(|t| t.flops).sum());
    Ok(())
}

fn segment_one(unet: &mut Unet, path: &Path, out: &Path) -> emunet::Result<(String, f64)> {
    let (frame, warnings) = Frame::load(path)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let seg = unet.segment(&frame)?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "frame".into());
    let mask = seg.mask();
    let on = mask.iter().filter(|&&v| v != 0).count();
    Frame::from_u8(seg.width, seg.height, mask)?.save_png(&out.join(format!("{stem}.mask.png")))?;
    emunet::npy::write(
        &out.join(format!("{stem}.prob.npy")),
        &seg.prob,
        seg.height,
        seg.width,
    )?;
    let ms = seg.elapsed.as_secs_f64() * 1e3;
    Ok((
        format!(
            "{}: {}×{} {}-bit, {:.1} ms{}, mask {:.2} % of pixels",
            path.display(),
            seg.width,
            seg.height,
            frame.bits(),
            ms,
            if seg.tiles > 1 {
                format!(" ({} tiles)", seg.tiles)
            } else {
                String::new()
            },
            100.0 * on as f64 / (seg.width * seg.height) as f64
        ),
        ms,
    ))
}
