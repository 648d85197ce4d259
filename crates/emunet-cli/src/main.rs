//! The `emunet` command line: one module per command under `commands/`, each an `Args` struct
//! and a `run`; this file only parses and dispatches.

mod commands;
mod common;

use clap::{Parser, Subcommand};
use commands::*;
use std::process::ExitCode;

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
    /// Render emulsion-like frames with exact truth: DIR/images/<name>.png, DIR/masks/<name>.png
    /// (truth), DIR/masks_classic/<name>.png (the classical pipeline's mask) and DIR/grains.csv.
    Simulate(simulate::Args),
    /// The classical station pipeline (equalise, FIR filter, threshold, border, clusters, area
    /// cuts): writes DIR/<stem>.mask.png and DIR/<stem>.clusters.csv.
    Classic(classic::Args),
    /// Link the clusters of focal stacks into 3D grains: writes DIR/<view>.grains.csv and
    /// DIR/<view>.grains.json. A STACK is a folder of a view's frames (or of several views' frames
    /// named <view>_z<plane>, as `simulate --frames-per-view` writes them); plane depths come
    /// from its stack.json, else --step-um.
    Grains(grains::Args),
    /// Find microtracks (straight chains of grains through the layer) in the grains `emunet
    /// grains` wrote: DIR/<view>.tracks.csv.
    Tracks(tracks::Args),
    /// Estimate the camera's fixed pattern (column offsets and a smooth gain map) from frames of
    /// one run (at least 3, different views), for `segment`/`classic --flatfield`.
    Flatfield(flatfield::Args),
    /// Benchmark this GPU: each engine's (per-operation f32, fused f32, fused f16) time per
    /// dispatch with GFLOP/s and GB/s, first-frame and steady-state latency, frames per second,
    /// on a simulated nominal frame.
    Bench(bench::Args),
    /// Train a UNet(D, C) on the GPU from frame/mask pairs (--data DIR with images/ and masks/)
    /// or from frames simulated on the fly (--simulate). Writes OUT/best.safetensors (best
    /// validation Jaccard), OUT/last.safetensors + OUT/state.safetensors (resumable),
    /// OUT/log.csv and OUT/curves.png.
    Train(train::Args),
    /// Score predicted masks (and clusters) against truth masks and simulator grains; and the
    /// 3D grains and microtracks of `emunet grains`/`tracks` (<view>.grains.csv, .tracks.csv)
    /// against the simulator's grains.
    Eval(eval::Args),
    /// Show the GPU adapter emunet picks (EMUNET_ADAPTER=<substring> picks by name), its limits
    /// and optional features.
    Info,
    /// Write a freshly initialised (He-normal) UNet(D, C) weights file.
    Init(init::Args),
    /// Segment frames: writes DIR/<stem>.mask.png (0/255), DIR/<stem>.prob.npy (float32 H×W) and
    /// DIR/<stem>.clusters.csv.
    Segment(segment::Args),
}

fn main() -> ExitCode {
    quiet_wayland_probe();
    // Like other Unix tools, end quietly when the reader of stdout goes away (`| head`),
    // instead of panicking on the broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let result = match Cli::parse().command {
        Command::Simulate(args) => simulate::run(args),
        Command::Classic(args) => classic::run(args),
        Command::Grains(args) => grains::run(args),
        Command::Tracks(args) => tracks::run(args),
        Command::Flatfield(args) => flatfield::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Info => info::run(),
        Command::Init(args) => init::run(args),
        Command::Segment(args) => segment::run(args),
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
