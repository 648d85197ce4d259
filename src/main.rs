//! The `emunet` command line: `info`, `init`, `segment`, `simulate`, `classic`, `eval`, `train`.

mod cli {
    pub mod grains;
    pub mod stack_eval;
    pub mod tracks;
    pub(crate) use super::{collect_frames, create_dir, load_frame, stem_of};
}

use clap::{Parser, Subcommand};
use emunet::classic::{Classic, ClassicParams, FilterKernel, ThresholdRule};
use emunet::clusters::{self, Connectivity};
use emunet::clusters_gpu::Labelling;
use emunet::flatfield::FlatField;
use emunet::formats::parts::stem_of;
use emunet::formats::{FrameClusters, TableFormat};
use emunet::kernels::{Precision, ProbFormat};
use emunet::model::Normalization;
use emunet::simulate::{self, Preset, SimParams, View};
use emunet::trainer::{DataSpec, TrainOptions};
use emunet::unet::Engine;
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

/// How training crops are augmented (see `emunet train --help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum AugmentMode {
    Auto,
    Full,
    Geometric,
    Crops,
}

#[derive(Subcommand)]
enum Command {
    /// Render emulsion-like frames with exact truth: DIR/images/<name>.png, DIR/masks/<name>.png
    /// (truth), DIR/masks_classic/<name>.png (the classical pipeline's mask) and DIR/grains.csv.
    Simulate {
        #[arg(long)]
        out: PathBuf,
        /// Number of views (each of --frames-per-view focal planes).
        #[arg(long, default_value_t = 1)]
        count: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = Preset::Nominal)]
        preset: Preset,
        /// Frame width in pixels (default 1280).
        #[arg(long)]
        width: Option<usize>,
        /// Frame height in pixels (default 1024).
        #[arg(long)]
        height: Option<usize>,
        /// Focal planes per view, 2.9 µm apart (1: single frames at random depths).
        #[arg(long, default_value_t = 1)]
        frames_per_view: usize,
    },
    /// The classical station pipeline (equalise, FIR filter, threshold, border, clusters, area
    /// cuts): writes DIR/<stem>.mask.png and DIR/<stem>.clusters.csv.
    Classic {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = FilterKernel::Fedra6x6)]
        kernel: FilterKernel,
        /// Fixed threshold on the filter response (default 50, FEDRA's online default).
        #[arg(long, conflicts_with = "target_clusters")]
        threshold: Option<f32>,
        /// Tune the threshold per frame to about this many clusters of area ≥ 4.
        #[arg(long)]
        target_clusters: Option<usize>,
        /// Pixels ignored along every edge.
        #[arg(long, default_value_t = 4)]
        border: usize,
        #[arg(long, default_value_t = 2)]
        min_area: usize,
        #[arg(long, default_value_t = 64)]
        max_area: usize,
        #[arg(long, value_enum, default_value_t = Connectivity::Eight)]
        connectivity: Connectivity,
        /// Run the CPU reference instead of the GPU shaders.
        #[arg(long)]
        cpu: bool,
        /// Where the GPU pipeline labels the mask and measures the clusters (identical results):
        /// gpu (only the cluster table is read back), host, or auto (the GPU on a hardware
        /// adapter, the host on a software driver, where it is faster).
        #[arg(long, value_enum, default_value_t = Labelling::Auto)]
        labelling: Labelling,
        /// Also write DIR/<stem>.clusters.json.
        #[arg(long)]
        json: bool,
        /// Take the camera's fixed pattern out of every frame first (a file from `emunet
        /// flatfield`).
        #[arg(long)]
        flatfield: Option<PathBuf>,
        /// Frames (PNG or TIFF, 8/16-bit) or folders of frames.
        #[arg(required = true)]
        frames: Vec<PathBuf>,
    },
    /// Link the clusters of focal stacks into 3D grains: writes DIR/<view>.grains.csv and
    /// DIR/<view>.grains.json. A STACK is a folder of a view's frames (or of several views' frames
    /// named <view>_z<plane>, as `simulate --frames-per-view` writes them); plane depths come
    /// from its stack.json, else --step-um.
    Grains {
        /// Weights file; default: the shipped model.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Probability threshold for the planes' masks [default: 0.05, measured with the shipped
        /// model (README, Focal stacks); a weights file's own threshold is tuned for single
        /// frames, and a model of your own may want its own stack threshold].
        #[arg(long)]
        threshold: Option<f32>,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Plane spacing (µm) for folders without a stack.json.
        #[arg(long, default_value_t = 2.9)]
        step_um: f64,
        /// Pixel size (µm) for folders without a stack.json.
        #[arg(long, default_value_t = 0.30)]
        pixel_um: f64,
        /// Clusters of consecutive planes closer than this (µm) are one grain.
        #[arg(long, default_value_t = 0.4)]
        link_um: f64,
        /// The simulator's grains.csv: score the grains (3D efficiency, purity, x/y/z RMS).
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Stack folders.
        #[arg(required = true)]
        stacks: Vec<PathBuf>,
    },
    /// Find microtracks (straight chains of grains through the layer) in the grains `emunet
    /// grains` wrote: DIR/<view>.tracks.csv.
    Tracks {
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Largest |tan θ| in x and y.
        #[arg(long, default_value_t = 0.6)]
        max_slope: f64,
        /// Fewest grains of a track (default: measured, README; with --max-chance the density of
        /// the view's fog decides how many more a track needs).
        #[arg(long, default_value_t = 6)]
        min_grains: usize,
        /// Grains within this distance (µm) of a track's line belong to it.
        #[arg(long, default_value_t = 0.55)]
        fit_um: f64,
        /// Largest chance probability of a track: that fog alone, at the view's grain density,
        /// puts its grain count in its tube (Poisson; 1: off; default measured, README).
        #[arg(long, default_value_t = 1e-9)]
        max_chance: f64,
        /// The simulator's grains.csv: score the tracks.
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Truth tracks with at least this many grains in the layer count as findable.
        #[arg(long, default_value_t = 8)]
        findable_grains: usize,
        /// <view>.grains.csv files of `emunet grains`.
        #[arg(required = true)]
        grains: Vec<PathBuf>,
    },
    /// Estimate the camera's fixed pattern (column offsets and a smooth gain map) from frames of
    /// one run (at least 3, different views), for `segment`/`classic --flatfield`.
    Flatfield {
        /// Output file (.safetensors, format emunet-flatfield/1).
        #[arg(long)]
        out: PathBuf,
        /// Frames (PNG or TIFF, 8/16-bit, one size) or folders of frames.
        #[arg(required = true)]
        frames: Vec<PathBuf>,
    },
    /// Benchmark this GPU: each engine's (per-operation f32, fused f32, fused f16) time per
    /// dispatch with GFLOP/s and GB/s, first-frame and steady-state latency, frames per second,
    /// on a simulated nominal frame.
    Bench {
        /// Weights file; default: the shipped model.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Frame size WIDTHxHEIGHT.
        #[arg(long, default_value = "1280x1024")]
        size: String,
        /// Steady-state frames timed per engine.
        #[arg(long, default_value_t = 5)]
        frames: usize,
        /// Also time batches of N frames in one submit (Unet::segment_batch).
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Also write the report as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Train a UNet(D, C) on the GPU from frame/mask pairs (--data DIR with images/ and masks/)
    /// or from frames simulated on the fly (--simulate). Writes OUT/best.safetensors (best
    /// validation Jaccard), OUT/last.safetensors + OUT/state.safetensors (resumable),
    /// OUT/log.csv and OUT/curves.png.
    Train {
        /// Folder with images/ and masks/ (same stems; PNG or TIFF, 8/16-bit).
        #[arg(
            long,
            conflicts_with = "simulate",
            required_unless_present = "simulate"
        )]
        data: Option<PathBuf>,
        /// Draw training frames from the simulator (validation: full-size simulated frames).
        #[arg(long)]
        simulate: bool,
        /// Simulator preset for --simulate.
        #[arg(long, value_enum, default_value_t = Preset::Nominal)]
        preset: Preset,
        #[arg(long)]
        out: PathBuf,
        /// Encoder depth D.
        #[arg(long, default_value_t = 2)]
        depth: usize,
        /// Base channels C.
        #[arg(long, default_value_t = 16)]
        channels: usize,
        #[arg(long, default_value_t = 14)]
        epochs: usize,
        /// Training steps per epoch.
        #[arg(long, default_value_t = 100)]
        steps: usize,
        /// Crops per step.
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Side of the square training crops (a multiple of 2^D).
        #[arg(long, default_value_t = 128)]
        crop: usize,
        /// Peak learning rate (cosine decay to 5 % of it).
        #[arg(long, default_value_t = 3e-3)]
        lr: f32,
        /// AdamW weight decay.
        #[arg(long, default_value_t = 1e-4)]
        weight_decay: f32,
        /// Weight of the cluster class in the cross-entropy (clusters are ~1–3 % of pixels).
        #[arg(long, default_value_t = 3.0)]
        pos_weight: f32,
        /// Weight of the soft-Jaccard term added to the cross-entropy.
        #[arg(long, default_value_t = 0.5)]
        jaccard_weight: f32,
        /// Augmentation: `geometric` = crops, flips and quarter turns; `full` adds gamma,
        /// contrast, brightness, noise and blur jitter; `crops` = random crops only, for labels
        /// that are not symmetric under flips and turns (the classical pipeline's masks sit half
        /// a pixel down-right of the grains); `auto` = geometric for --simulate (its labels
        /// follow the rendered grey levels), full for --data.
        #[arg(long, value_enum, default_value_t = AugmentMode::Auto)]
        augment: AugmentMode,
        /// --simulate: train on the soft target sigmoid((own darkness − 20 gl) / S) instead of
        /// the 0/1 truth mask (its 0.5 level is the mask); S in grey levels, 0 = the mask.
        #[arg(long, default_value_t = 0.0)]
        soft_target: f32,
        /// Input normalisation: `median` = grey levels about the frame's median at a fixed
        /// scale (keeps the truth's absolute contrast); `zscore` = design.md §2's per-frame
        /// z-score.
        #[arg(long, value_enum, default_value_t = emunet::model::DEFAULT_NORMALIZATION)]
        normalization: Normalization,
        /// --data: take the camera's fixed pattern (a file from `emunet flatfield`) out of
        /// every frame as it is read; segment with the same `--flatfield` afterwards.
        #[arg(long, requires = "data")]
        flatfield: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Fraction of the files held out for validation (--data).
        #[arg(long, default_value_t = 0.1)]
        val_fraction: f64,
        /// Full-size frames rendered for validation (--simulate).
        #[arg(long, default_value_t = 3)]
        val_frames: usize,
        /// Start from these weights instead of random ones (fine-tuning, for example
        /// `--init weights/default.safetensors` on a station's own frames and masks); their depth,
        /// channels and input rule must match the options.
        #[arg(long)]
        init: Option<PathBuf>,
        /// Continue the run saved in OUT (same options) after its last finished epoch.
        #[arg(long)]
        resume: bool,
    },
    /// Score predicted masks (and clusters) against truth masks and simulator grains; and the
    /// 3D grains and microtracks of `emunet grains`/`tracks` (<view>.grains.csv, .tracks.csv)
    /// against the simulator's grains.
    Eval {
        /// Folder with <name>.mask.png (or <name>.png) and optionally <name>.clusters.csv; or
        /// with <view>.grains.csv and <view>.tracks.csv.
        #[arg(long)]
        pred: PathBuf,
        /// Folder with the truth masks <name>.png (for masks and clusters).
        #[arg(long)]
        truth: Option<PathBuf>,
        /// The simulator's grains.csv: grain-finding efficiency and purity of the clusters; 3D
        /// grain and track scores of grains.csv/tracks.csv files.
        #[arg(long)]
        grains: Option<PathBuf>,
        /// Frame size WIDTHxHEIGHT of the stacks' planes: a truth grain counts as detectable only
        /// when its centre lies inside.
        #[arg(long, default_value = "1280x1024")]
        frame_size: String,
        /// Truth tracks with at least this many grains in the layer count as findable.
        #[arg(long, default_value_t = 8)]
        findable_grains: usize,
        /// Matching radius in pixels.
        #[arg(long, default_value_t = 1.5)]
        radius: f64,
        /// Where to write the JSON report (default PRED/eval.json).
        #[arg(long)]
        json: Option<PathBuf>,
    },
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
        /// Input normalisation rule recorded in the file (see `train --help`).
        #[arg(long, value_enum, default_value_t = emunet::model::DEFAULT_NORMALIZATION)]
        normalization: Normalization,
        /// Output weights file (.safetensors).
        #[arg(long)]
        out: PathBuf,
    },
    /// Segment frames: writes DIR/<stem>.mask.png (0/255), DIR/<stem>.prob.npy (float32 H×W) and
    /// DIR/<stem>.clusters.csv.
    Segment {
        /// Weights file (.safetensors, format emunet-unet/1); default: the shipped model
        /// (weights/default.safetensors, built into the binary).
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Probability threshold for the mask (default: the weights file's).
        #[arg(long)]
        threshold: Option<f32>,
        /// Also print the GPU time of every dispatch for the first frame (timestamp queries).
        #[arg(long)]
        profile: bool,
        /// Inference path: fused (activations in textures, normalisation and head fused into the
        /// first and last convs), ops (one dispatch per operation, the training kernels), or
        /// auto (fused where the model and frame allow it).
        #[arg(long, value_enum, default_value_t = Engine::Auto)]
        engine: Engine,
        /// How the fused engine stores activations: f32, f16 (f32 arithmetic, half the traffic;
        /// probabilities move by < 0.01), or auto (f16 in the fused engine, where it measured
        /// faster with the same scores; f32 in the per-operation engine).
        #[arg(long, value_enum, default_value_t = PrecisionArg::Auto)]
        precision: PrecisionArg,
        /// How the probabilities come back from the GPU: f32, f16 (|Δp| ≤ 2⁻¹²) or u8
        /// (round(255·p), |Δp| ≤ 1/510): the fused engine's last conv writes them so, beside a
        /// mask decided on the f32 probability (the same mask whatever the format). The
        /// .prob.npy files stay float32, holding the rounded values.
        #[arg(long, value_enum, default_value_t = ProbFormat::F32)]
        prob_format: ProbFormat,
        /// Also write DIR/<stem>.clusters.json.
        #[arg(long)]
        json: bool,
        /// The clusters table: csv (DIR/<stem>.clusters.csv per frame), json
        /// (DIR/<stem>.clusters.json per frame), or one table of every frame of the run:
        /// parquet (DIR/clusters.parquet) or root (DIR/clusters.root, TTree "clusters"); with
        /// --shard I/N, DIR/clusters.shard-I-of-N.parquet (.root). Columns: README.
        #[arg(long, value_enum, default_value_t = ClustersFormat::Csv)]
        format: ClustersFormat,
        /// Process only the I-th (from 0) of N equal contiguous shards of the frame list (frames
        /// in the order given, folders' frames in name order), e.g. a Slurm array task's
        /// --shard $SLURM_ARRAY_TASK_ID/N.
        #[arg(long)]
        shard: Option<String>,
        /// Write only the clusters: no mask PNG or probability file per frame.
        #[arg(long)]
        clusters_only: bool,
        /// Keep touching grains in one cluster (by default a cluster is split where its
        /// darkness has separate maxima).
        #[arg(long)]
        no_split: bool,
        /// Also write DIR/<stem>.overlay.png: the frame with cluster outlines (green; split
        /// pieces magenta) and positions (red).
        #[arg(long)]
        overlay: bool,
        /// Take the camera's fixed pattern out of every frame first (a file from `emunet
        /// flatfield`).
        #[arg(long)]
        flatfield: Option<PathBuf>,
        /// Skip frames whose outputs are all in DIR already (each file is written atomically:
        /// one that exists is complete), so re-running an interrupted run does only the rest.
        #[arg(long)]
        skip_existing: bool,
        /// Frames (PNG or TIFF, 8/16-bit) or folders of frames.
        #[arg(required = true)]
        frames: Vec<PathBuf>,
    },
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
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate {
            out,
            count,
            seed,
            preset,
            width,
            height,
            frames_per_view,
        } => simulate(
            &out,
            count,
            seed,
            preset,
            width,
            height,
            frames_per_view,
            &ClassicParams::default(),
        ),
        Command::Classic {
            out,
            kernel,
            threshold,
            target_clusters,
            border,
            min_area,
            max_area,
            connectivity,
            cpu,
            labelling,
            json,
            flatfield,
            frames,
        } => {
            let rule = match (threshold, target_clusters) {
                (_, Some(n)) => ThresholdRule::TargetClusters(n),
                (Some(t), None) => ThresholdRule::Fixed(t),
                (None, None) => ThresholdRule::Fixed(emunet::classic::DEFAULT_THRESHOLD),
            };
            let params = ClassicParams {
                kernel,
                threshold: rule,
                border,
                min_area,
                max_area,
                connectivity,
                equalise: true,
            };
            let gpu = (!cpu).then_some(labelling);
            classic(&out, params, gpu, json, flatfield.as_deref(), &frames)
        }
        Command::Train {
            data,
            simulate: _,
            preset,
            out,
            depth,
            channels,
            epochs,
            steps,
            batch,
            crop,
            lr,
            weight_decay,
            pos_weight,
            jaccard_weight,
            augment,
            soft_target,
            normalization,
            flatfield,
            seed,
            val_fraction,
            val_frames,
            init,
            resume,
        } => train(TrainOptions {
            soft_target,
            normalization,
            flatfield,
            photometric: match augment {
                AugmentMode::Full => true,
                AugmentMode::Geometric | AugmentMode::Crops => false,
                AugmentMode::Auto => data.is_some(),
            },
            orient: augment != AugmentMode::Crops,
            out,
            data: match data {
                Some(dir) => DataSpec::Dir(dir),
                None => DataSpec::Simulate(preset),
            },
            depth,
            channels,
            epochs,
            steps,
            batch,
            crop,
            lr,
            weight_decay,
            pos_weight,
            jaccard_weight,
            seed,
            val_fraction,
            val_frames,
            val_size: None,
            init,
            resume,
        }),
        Command::Eval {
            pred,
            truth,
            grains,
            frame_size,
            findable_grains,
            radius,
            json,
        } => {
            let Some(frame_size) = parse_size(&frame_size) else {
                eprintln!("error: --frame-size {frame_size:?} is not WIDTHxHEIGHT");
                return ExitCode::FAILURE;
            };
            eval(
                &pred,
                truth.as_deref(),
                grains.as_deref(),
                (frame_size, findable_grains),
                radius,
                json.as_deref(),
            )
        }
        Command::Info => info(),
        Command::Init {
            depth,
            channels,
            seed,
            normalization,
            out,
        } => init(depth, channels, seed, normalization, &out),
        Command::Segment {
            weights,
            out,
            threshold,
            profile,
            engine,
            precision,
            prob_format,
            json,
            format,
            shard,
            clusters_only,
            no_split,
            overlay,
            flatfield,
            skip_existing,
            frames,
        } => {
            let shard = match shard.as_deref().map(parse_shard).transpose() {
                Ok(s) => s,
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::FAILURE;
                }
            };
            segment(
                weights.as_deref(),
                &out,
                threshold,
                profile,
                (engine, precision.resolve(), prob_format),
                SegmentOutputs {
                    csv: format == ClustersFormat::Csv,
                    json: json || format == ClustersFormat::Json,
                    table: format.table(),
                    maps: !clusters_only,
                    split: !no_split,
                    overlay,
                },
                flatfield.as_deref(),
                (skip_existing, shard),
                &frames,
            )
        }
        Command::Flatfield { out, frames } => flatfield(&out, &frames),
        Command::Tracks {
            out,
            max_slope,
            min_grains,
            fit_um,
            max_chance,
            truth,
            findable_grains,
            grains,
        } => {
            if !(max_slope > 0.0 && fit_um > 0.0 && max_chance > 0.0) || min_grains < 3 {
                eprintln!(
                    "error: --max-slope and --fit-um must be above 0, --min-grains at least 3"
                );
                return ExitCode::FAILURE;
            }
            let params = emunet::stacks::tracks::TrackParams {
                max_slope,
                min_grains,
                fit_um,
                max_chance,
                ..Default::default()
            };
            cli::tracks::tracks(
                &out,
                &params,
                truth.as_deref().map(|t| (t, findable_grains)),
                &grains,
            )
        }
        Command::Grains {
            weights,
            threshold,
            out,
            step_um,
            pixel_um,
            link_um,
            truth,
            stacks,
        } => {
            if !(step_um > 0.0 && pixel_um > 0.0 && link_um > 0.0) {
                eprintln!("error: --step-um, --pixel-um and --link-um must be above 0");
                return ExitCode::FAILURE;
            }
            cli::grains::grains(cli::grains::GrainsOptions {
                weights: weights.as_deref(),
                threshold,
                out: &out,
                step_um,
                pixel_um,
                link: emunet::stacks::grains::LinkParams {
                    link_um,
                    ..Default::default()
                },
                truth: truth.as_deref(),
                stacks: &stacks,
            })
        }
        Command::Bench {
            weights,
            size,
            frames,
            batch,
            json,
        } => bench(weights.as_deref(), &size, (frames, batch), json.as_deref()),
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

fn init(
    depth: usize,
    channels: usize,
    seed: u64,
    normalization: Normalization,
    out: &Path,
) -> emunet::Result<ExitCode> {
    let mut model = Model::init_he(depth, channels, seed)?;
    model.set_normalization(normalization);
    model.save(out)?;
    println!(
        "wrote {} : UNet({depth}, {channels}), {} parameters, He-normal init, seed {seed}, {} normalisation",
        out.display(),
        model.parameter_count(),
        normalization.name()
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
                // Directories and dangling links named like frames too: each is reported.
                .filter(|p| is_image(p))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(input.clone());
        }
    }
    out
}

/// What `segment` writes and how it builds clusters.
#[derive(Clone, Copy)]
struct SegmentOutputs {
    /// Per frame: the clusters CSV, JSON; the mask PNG and probabilities.
    csv: bool,
    json: bool,
    maps: bool,
    /// One table of the whole run (or shard).
    table: Option<TableFormat>,
    split: bool,
    overlay: bool,
}

/// `--format`: the clusters table `segment` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ClustersFormat {
    Csv,
    Json,
    Parquet,
    Root,
}

impl ClustersFormat {
    fn table(self) -> Option<TableFormat> {
        match self {
            ClustersFormat::Parquet => Some(TableFormat::Parquet),
            ClustersFormat::Root => Some(TableFormat::Root),
            _ => None,
        }
    }
}

/// "I/N" with I < N.
fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => Err(format!(
            "--shard {text:?}: expected I/N with 0 ≤ I < N (shards count from 0), e.g. 3/16"
        )),
    }
}

/// The frames (with their indices in the whole list) of shard `i` of `n`: the i-th of n
/// contiguous blocks whose sizes differ by at most one.
fn shard_of(frames: Vec<PathBuf>, (i, n): (usize, usize)) -> Vec<(usize, PathBuf)> {
    let len = frames.len();
    let (start, end) = (i * len / n, (i + 1) * len / n);
    frames
        .into_iter()
        .enumerate()
        .skip(start)
        .take(end - start)
        .collect()
}

/// One frame's output files by kind: the one place their names are made.
#[derive(Clone, Copy)]
enum OutputFile {
    Mask,
    Prob,
    Csv,
    Json,
    Overlay,
}

impl OutputFile {
    /// OUT/<stem>.<kind's suffix>.
    fn path(self, out: &Path, stem: &str) -> PathBuf {
        let suffix = match self {
            OutputFile::Mask => "mask.png",
            OutputFile::Prob => "prob.npy",
            OutputFile::Csv => "clusters.csv",
            OutputFile::Json => "clusters.json",
            OutputFile::Overlay => "overlay.png",
        };
        out.join(format!("{stem}.{suffix}"))
    }
}

impl SegmentOutputs {
    /// The files one frame's outputs make.
    fn files(&self, out: &Path, stem: &str) -> Vec<PathBuf> {
        let mut kinds = Vec::new();
        if self.maps {
            kinds.extend([OutputFile::Mask, OutputFile::Prob]);
        }
        if self.csv {
            kinds.push(OutputFile::Csv);
        }
        if self.json {
            kinds.push(OutputFile::Json);
        }
        if self.overlay {
            kinds.push(OutputFile::Overlay);
        }
        kinds.into_iter().map(|k| k.path(out, stem)).collect()
    }
}

#[allow(clippy::too_many_arguments)]
fn segment(
    weights: Option<&Path>,
    out: &Path,
    threshold: Option<f32>,
    profile: bool,
    (engine, precision, prob_format): (Engine, Option<Precision>, ProbFormat),
    outputs: SegmentOutputs,
    flatfield: Option<&Path>,
    (skip_existing, shard): (bool, Option<(usize, usize)>),
    inputs: &[PathBuf],
) -> emunet::Result<ExitCode> {
    let flat = flatfield.map(FlatField::load).transpose()?;
    let model = match weights {
        Some(path) => Model::load(path)?,
        None => Model::shipped()?,
    };
    let all = collect_frames(inputs);
    if all.is_empty() {
        eprintln!("error: no PNG or TIFF frames found in {inputs:?}");
        return Ok(ExitCode::FAILURE);
    }
    let total = all.len();
    let mut frames: Vec<(usize, PathBuf)> = match shard {
        Some(s) => shard_of(all, s),
        None => all.into_iter().enumerate().collect(),
    };
    if let Some((i, n)) = shard {
        match (frames.first(), frames.last()) {
            (Some((a, _)), Some((b, _))) => {
                eprintln!("shard {i}/{n}: frames {a}..={b} of {total} (counting from 0)")
            }
            _ => {
                println!("shard {i}/{n} of {total} frame(s) is empty: nothing to do");
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    std::fs::create_dir_all(out).map_err(|e| emunet::Error::Io {
        path: out.to_path_buf(),
        source: e,
    })?;
    let table = outputs.table.map(|format| {
        let name = match shard {
            Some((i, n)) => format!("clusters.shard-{i}-of-{n}.{}", format.extension()),
            None => format!("clusters.{}", format.extension()),
        };
        (out.join(name), format)
    });
    if skip_existing {
        emunet::model::remove_stale_temporaries(out);
        // A run's table is written last, once: if it is there, the run was complete.
        if let Some((path, _)) = &table {
            if path.is_file() {
                println!(
                    "nothing left to do: {} is complete (--skip-existing)",
                    path.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
        let total = frames.len();
        frames.retain(|(_, path)| {
            let stem = stem_of(path);
            table.is_some() || !outputs.files(out, &stem).iter().all(|f| f.is_file())
        });
        if frames.len() < total {
            eprintln!(
                "{} of {total} frame(s) skipped: all their outputs are in {} (--skip-existing)",
                total - frames.len(),
                out.display()
            );
        }
        if frames.is_empty() {
            println!("nothing left to do");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let ctx = Arc::new(Context::new()?);
    let mut unet = Unet::new(ctx.clone(), &model)?;
    if let Some(t) = threshold {
        unet.set_threshold(t)?;
    }
    unet.set_flatfield(flat.as_ref());
    unet.set_engine(engine);
    unet.set_precision(precision);
    unet.set_prob_format(prob_format);
    eprintln!(
        "{} UNet({}, {}), {} normalisation, on {} ({:?}), threshold {}, engine {:?}, {} activations, {:?} probabilities",
        match weights {
            Some(path) => path.display().to_string(),
            None => "shipped model".into(),
        },
        model.depth,
        model.channels,
        model.normalization().name(),
        ctx.info.name,
        ctx.info.backend,
        unet.threshold,
        engine,
        precision.map_or("auto (f16 fused, f32 ops)".to_string(), |p| format!(
            "{p:?}"
        )),
        prob_format
    );
    if profile {
        print_profile(
            &mut unet,
            &frames[0].1,
            ctx.info.device_type == wgpu::DeviceType::Cpu,
        )?;
    }
    let (code, rows) = segment_pipelined(&mut unet, &frames, out, outputs, &ctx);
    if let (Some((path, format)), Some(rows)) = (table, rows) {
        let clusters: usize = rows.iter().map(|f| f.clusters.len()).sum();
        emunet::formats::write_table(&path, format, &rows)?;
        println!(
            "wrote {} ({} clusters of {} frame(s))",
            path.display(),
            clusters,
            rows.len()
        );
    }
    Ok(code)
}

/// `--precision`: the storage precision of the fused engine's activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum PrecisionArg {
    /// f16 in the fused engine, f32 in the per-operation one: on the 16 development frames
    /// (4 per preset) f16 storage changed ≤ 3.8e-6 of mask pixels and one cluster in 29,935,
    /// and it is faster on lavapipe (README, Speed).
    Auto,
    F32,
    F16,
}

impl PrecisionArg {
    /// The library's setting: None is its auto.
    fn resolve(self) -> Option<Precision> {
        match self {
            PrecisionArg::Auto => None,
            PrecisionArg::F32 => Some(Precision::F32),
            PrecisionArg::F16 => Some(Precision::F16),
        }
    }
}

/// A progress bar over `len` items called `unit`, with elapsed time, ETA and a message.
fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{elapsed}} (eta {{eta}})  {{msg}}");
    bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
    bar
}

/// Runs `work` on every frame with a progress bar; prints each frame's line (or its error, named)
/// and a summary with the mean time. A failed frame does not stop the others; the exit status
/// is non-zero if any failed.
fn for_each_frame(
    frames: &[PathBuf],
    verb: &str,
    mut work: impl FnMut(&Path) -> emunet::Result<(String, f64)>,
) -> ExitCode {
    let mut tally = Tally::new(frames.len());
    for path in frames {
        tally.record(path, work(path));
    }
    tally.finish(verb)
}

/// Per-frame results in order: each frame's line (or its error, named), a progress bar, and the
/// summary with the mean time.
struct Tally {
    bar: ProgressBar,
    ok: usize,
    failed: usize,
    total_ms: f64,
    // Frames overlap in the pipeline, so the mean per-frame time is a latency: the wall time
    // since the start gives the throughput.
    start: std::time::Instant,
}

impl Tally {
    fn new(len: usize) -> Self {
        Tally {
            bar: progress_bar(len as u64, "frames"),
            ok: 0,
            failed: 0,
            total_ms: 0.0,
            start: std::time::Instant::now(),
        }
    }

    fn record(&mut self, path: &Path, result: emunet::Result<(String, f64)>) {
        match result {
            Ok((line, ms)) => {
                self.ok += 1;
                self.total_ms += ms;
                self.bar.suspend(|| println!("{line}"));
            }
            Err(e) => {
                self.failed += 1;
                // Name the frame unless the error already does.
                let shown = path.display().to_string();
                let msg = e.to_string();
                if msg.contains(&shown) {
                    self.bar.suspend(|| eprintln!("error: {msg}"));
                } else {
                    self.bar.suspend(|| eprintln!("error: {shown}: {msg}"));
                }
            }
        }
        self.bar.inc(1);
    }

    fn finish(self, verb: &str) -> ExitCode {
        self.bar.finish_and_clear();
        let wall = self.start.elapsed().as_secs_f64();
        let frames = self.ok + self.failed;
        println!(
            "{} frame(s) {verb}, {} failed{}; {wall:.1} s in all, {:.2} frames/s",
            self.ok,
            self.failed,
            if self.ok > 0 {
                format!(
                    ", {:.1} ms per frame on average (first frame includes planning)",
                    self.total_ms / self.ok as f64
                )
            } else {
                String::new()
            },
            frames as f64 / wall.max(1e-9),
        );
        if self.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

/// `segment` over many frames as a three-stage pipeline: a reader thread decodes the next frames,
/// the main thread streams them through the GPU (up to the engine's ring of frames in flight,
/// [`Unet::submit`] / [`Unet::poll`]), and a writer thread measures clusters and writes the files
/// of finished ones; at most two frames wait between threads. Lines print in frame order.
///
/// A device fault (lost, hung) or a full output disk stops the run: frames in flight are reported
/// failed, the rest are not started, and the summary says how many were done (exit status 3;
/// `--skip-existing` goes on).
///
/// With a table format the clusters of the done frames come back, in frame order, unless the
/// run stopped.
fn segment_pipelined(
    unet: &mut Unet,
    frames: &[(usize, PathBuf)],
    out: &Path,
    outputs: SegmentOutputs,
    ctx: &Context,
) -> (ExitCode, Option<Vec<FrameClusters>>) {
    use std::collections::VecDeque;
    use std::sync::mpsc::sync_channel;
    type Segmented = emunet::Result<(Frame, emunet::unet::Segmentation)>;
    /// A frame in submission order: on the GPU, or failed before it got there.
    enum Job {
        OnGpu(Frame),
        Failed(emunet::Error),
    }
    let (to_gpu, from_reader) = sync_channel::<(PathBuf, emunet::Result<Frame>)>(2);
    let (to_writer, from_gpu) = sync_channel::<(PathBuf, Segmented)>(2);
    // The first error that ends the run (every later frame would fail the same way).
    let fault = std::sync::Mutex::new(None::<String>);
    let note_fault = |e: &emunet::Error| {
        if e.is_device_fault() || e.is_disk_full() {
            fault
                .lock()
                .expect("fault lock")
                .get_or_insert_with(|| e.to_string());
        }
    };
    let stopped = || fault.lock().expect("fault lock").is_some();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (_, path) in frames {
                if to_gpu.send((path.clone(), load_frame(path, None))).is_err() {
                    break;
                }
            }
        });
        let writer = scope.spawn(move || {
            let mut tally = Tally::new(frames.len());
            let mut rows = Vec::new();
            // Every frame reaches the writer, in order, done or failed.
            for ((index, _), (path, segmented)) in frames.iter().zip(from_gpu) {
                let result =
                    segmented.and_then(|(raw, seg)| finish_one(&path, &raw, &seg, out, outputs));
                let result = result.map(|(line, ms, clusters)| {
                    if outputs.table.is_some() {
                        rows.push(FrameClusters {
                            frame: *index,
                            name: stem_of(&path),
                            clusters,
                        });
                    }
                    (line, ms)
                });
                if let Err(e) = &result {
                    note_fault(e);
                }
                tally.record(&path, result);
            }
            (tally, rows)
        });
        // Hands the oldest job to the writer (waiting for the GPU if it is there); false when the
        // writer has gone or the device failed.
        let send_oldest = |unet: &mut Unet, queue: &mut VecDeque<(PathBuf, Job)>| {
            let Some((path, job)) = queue.pop_front() else {
                return true;
            };
            let segmented = match job {
                Job::Failed(e) => Err(e),
                Job::OnGpu(raw) => match unet.poll(true) {
                    Ok(Some((_, seg))) => Ok((raw, seg)),
                    Ok(None) => unreachable!("every job on the GPU is in flight"),
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = &segmented {
                note_fault(e);
            }
            to_writer.send((path, segmented)).is_ok() && !stopped()
        };
        // Test hook: lose the device after this many frames were submitted (tests/gpu_faults.rs).
        let destroy_after: Option<usize> = std::env::var("EMUNET_TEST_DESTROY_DEVICE_AFTER")
            .ok()
            .and_then(|n| n.parse().ok());
        let mut submitted = 0;
        let mut queue = VecDeque::new();
        'frames: for (path, loaded) in from_reader {
            if stopped() {
                break;
            }
            if destroy_after == Some(submitted) {
                ctx.device.destroy();
            }
            let job = match loaded {
                Ok(raw) => {
                    // A full ring: hand back the oldest (failures at the front were sent below).
                    if unet.in_flight() == unet.max_in_flight() && !send_oldest(unet, &mut queue) {
                        break 'frames;
                    }
                    submitted += 1;
                    match unet.submit(&raw) {
                        Ok(_) => Job::OnGpu(raw),
                        Err(e) => Job::Failed(e),
                    }
                }
                Err(e) => Job::Failed(e),
            };
            queue.push_back((path, job));
            while matches!(queue.front(), Some((_, Job::Failed(_)))) {
                if !send_oldest(unet, &mut queue) {
                    break 'frames;
                }
            }
        }
        // After a fault the frames still queued go to the writer too (each fails by itself).
        while !queue.is_empty() {
            if !send_oldest(unet, &mut queue) && !stopped() {
                break;
            }
        }
        drop(to_writer);
        let (tally, rows) = writer.join().expect("the writer thread does not panic");
        let Some(why) = fault.lock().expect("fault lock").take() else {
            return (tally.finish("segmented"), Some(rows));
        };
        let (done, failed) = (tally.ok, tally.failed);
        tally.finish("segmented");
        let not_started = frames.len() - done - failed;
        eprintln!(
            "stopped: {why}\n{done} of {} frame(s) were done (their outputs are complete in {}, \
             listed above); {failed} failed and {not_started} were not started. Run the same \
             command with --skip-existing to do the rest.",
            frames.len(),
            out.display()
        );
        (ExitCode::from(3), None)
    })
}

/// Prints each dispatch's time for one frame: GPU timestamps, or on a CPU adapter (lavapipe, whose
/// timestamps miss storage-texture work) the wall time of each dispatch submitted alone.
fn print_profile(unet: &mut Unet, path: &Path, cpu_adapter: bool) -> emunet::Result<()> {
    let frame = load_frame(path, None)?;
    let (times, what) = if cpu_adapter {
        (
            unet.profile_wall(&frame)?,
            "Wall time per dispatch, each submitted alone",
        )
    } else {
        (unet.profile(&frame)?, "GPU time per dispatch")
    };
    let line = |label: &str, seconds: f64, flops: u64| {
        println!(
            "  {label:<28} {:>9.3} ms  {:>7.2} GFLOP/s",
            seconds * 1e3,
            flops as f64 / seconds.max(1e-12) / 1e9
        )
    };
    println!("{what} ({}):", path.display());
    for t in &times {
        line(&t.label, t.seconds, t.flops);
    }
    let total: f64 = times.iter().map(|t| t.seconds).sum();
    line("total", total, times.iter().map(|t| t.flops).sum());
    Ok(())
}

/// The CPU stage of one segmented frame: clusters (split at grains), the files, the line to print.
fn finish_one(
    path: &Path,
    raw: &Frame,
    seg: &emunet::unet::Segmentation,
    out: &Path,
    outputs: SegmentOutputs,
) -> emunet::Result<(String, f64, Vec<clusters::Cluster>)> {
    // With a flat-field the GPU corrected the frame; the clusters are measured on its result.
    let frame = seg.corrected.as_ref().unwrap_or(raw);
    let stem = stem_of(path);
    let mask = seg.mask();
    let on = mask.iter().filter(|&&v| v != 0).count();
    let map = emunet::cluster_list::frame_clusters(frame, &mask, outputs.split);
    let found = &map.clusters;
    if outputs.csv {
        clusters::write_csv(&OutputFile::Csv.path(out, &stem), found)?;
    }
    if outputs.json {
        clusters::write_json(&OutputFile::Json.path(out, &stem), found)?;
    }
    if outputs.overlay {
        emunet::overlay::write_overlay(&OutputFile::Overlay.path(out, &stem), frame, &map)?;
    }
    let pieces = map.split.iter().filter(|&&s| s).count();
    if outputs.maps {
        Frame::from_u8(seg.width, seg.height, mask)?
            .save_png(&OutputFile::Mask.path(out, &stem))?;
        emunet::npy::write(
            &OutputFile::Prob.path(out, &stem),
            &seg.prob,
            seg.height,
            seg.width,
        )?;
    }
    let ms = seg.elapsed.as_secs_f64() * 1e3;
    let line = format!(
        "{}: {}×{} {}-bit, {:.1} ms ({:?} engine){}, mask {:.2} % of pixels, {} clusters{}",
        path.display(),
        seg.width,
        seg.height,
        frame.bits(),
        ms,
        seg.engine,
        if seg.tiles > 1 {
            format!(" ({} tiles)", seg.tiles)
        } else {
            String::new()
        },
        100.0 * on as f64 / (seg.width * seg.height) as f64,
        found.len(),
        if outputs.split {
            format!(" ({pieces} of them pieces of split clusters)")
        } else {
            String::new()
        }
    );
    Ok((line, ms, map.clusters))
}

/// Writes OUT/<stem>.clusters.csv, and OUT/<stem>.clusters.json when asked.
fn write_clusters(
    out: &Path,
    stem: &str,
    found: &[clusters::Cluster],
    json: bool,
) -> emunet::Result<()> {
    clusters::write_csv(&OutputFile::Csv.path(out, stem), found)?;
    if json {
        clusters::write_json(&OutputFile::Json.path(out, stem), found)?;
    }
    Ok(())
}

/// Reads a frame (printing its warnings) and takes the flat-field's fixed pattern out of it.
fn load_frame(path: &Path, flat: Option<&FlatField>) -> emunet::Result<Frame> {
    let (frame, warnings) = Frame::load(path)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    match flat {
        Some(f) => f.apply(&frame),
        None => Ok(frame),
    }
}

fn bench(
    weights: Option<&Path>,
    size: &str,
    (frames, batch): (usize, usize),
    json: Option<&Path>,
) -> emunet::Result<ExitCode> {
    let Some((width, height)) = parse_size(size).filter(|&(w, h)| w >= 16 && h >= 16) else {
        eprintln!(
            "error: --size {size:?}: expected WIDTHxHEIGHT, each at least 16 (e.g. 1280x1024)"
        );
        return Ok(ExitCode::FAILURE);
    };
    let model = match weights {
        Some(path) => Model::load(path)?,
        None => Model::shipped()?,
    };
    let ctx = Arc::new(Context::new()?);
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    if batch == 0 {
        eprintln!("error: --batch must be at least 1");
        return Ok(ExitCode::FAILURE);
    }
    let report = emunet::bench::run(ctx, &model, (width, height), frames, batch, |what| {
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

fn flatfield(out: &Path, inputs: &[PathBuf]) -> emunet::Result<ExitCode> {
    let paths = collect_frames(inputs);
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
    flat.save(out)?;
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

fn create_dir(dir: &Path) -> emunet::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| emunet::Error::Io {
        path: dir.to_path_buf(),
        source: e,
    })
}

#[allow(clippy::too_many_arguments)]
fn simulate(
    out: &Path,
    count: usize,
    seed: u64,
    preset: Preset,
    width: Option<usize>,
    height: Option<usize>,
    frames_per_view: usize,
    classic_params: &ClassicParams,
) -> emunet::Result<ExitCode> {
    let mut params = SimParams::preset(preset);
    params.width = width.unwrap_or(params.width);
    params.height = height.unwrap_or(params.height);
    params.check()?;
    if frames_per_view == 0 || count == 0 {
        eprintln!("error: --count and --frames-per-view must be at least 1");
        return Ok(ExitCode::FAILURE);
    }
    for sub in ["images", "masks", "masks_classic"] {
        create_dir(&out.join(sub))?;
    }
    let total = count * frames_per_view;
    let bar = progress_bar(total as u64, "frames");
    let start = std::time::Instant::now();
    let mut csv = String::from(simulate::GRAINS_CSV_HEADER);
    csv.push('\n');
    let (mut in_focus, mut truth_clusters, mut truth_px) = (0usize, 0usize, 0usize);
    for view in 0..count {
        let mut v = View::new(&params, seed, view as u64)?;
        let planes = simulate::focal_planes(&params, seed, view as u64, frames_per_view);
        for (plane, z) in planes.into_iter().enumerate() {
            let name = simulate::frame_name(view, plane, frames_per_view);
            let f = v.render(name.clone(), z);
            f.image
                .save_png(&out.join("images").join(format!("{name}.png")))?;
            Frame::from_u8(params.width, params.height, f.truth.clone())?
                .save_png(&out.join("masks").join(format!("{name}.png")))?;
            let classic = emunet::classic::reference::run(&f.image, classic_params);
            Frame::from_u8(params.width, params.height, classic.mask)?
                .save_png(&out.join("masks_classic").join(format!("{name}.png")))?;
            csv.push_str(&simulate::grains_csv_rows(&f));
            in_focus += f.grains.iter().filter(|g| g.in_focus).count();
            truth_clusters +=
                clusters::label(&f.truth, params.width, params.height, Connectivity::Eight).1;
            truth_px += f.truth.iter().filter(|&&t| t != 0).count();
            bar.inc(1);
        }
    }
    emunet::model::write_atomic(&out.join("grains.csv"), csv.as_bytes())?;
    if frames_per_view > 1 {
        // The planes' depths for `emunet grains` (the same in every view).
        let geometry = emunet::stacks::grains::StackGeometry {
            pixel_um: params.pixel_um,
            planes_um: simulate::focal_planes(&params, seed, 0, frames_per_view),
        };
        let json = serde_json::to_string_pretty(&geometry).expect("plain numbers serialise");
        emunet::model::write_atomic(
            &out.join("images").join(emunet::stacks::MANIFEST),
            json.as_bytes(),
        )?;
    }
    bar.finish_and_clear();
    let n = total as f64;
    println!(
        "wrote {total} {}×{} frame(s) ({preset:?}, seed {seed}) to {} in {:.1} s: per frame {:.0} in-focus grains, {:.0} truth clusters, {:.2} % truth pixels",
        params.width,
        params.height,
        out.display(),
        start.elapsed().as_secs_f64(),
        in_focus as f64 / n,
        truth_clusters as f64 / n,
        100.0 * truth_px as f64 / (n * (params.width * params.height) as f64)
    );
    Ok(ExitCode::SUCCESS)
}

/// `gpu`: where the GPU pipeline labels, or None for the CPU reference.
fn classic(
    out: &Path,
    params: ClassicParams,
    gpu: Option<Labelling>,
    json: bool,
    flatfield: Option<&Path>,
    inputs: &[PathBuf],
) -> emunet::Result<ExitCode> {
    let flat = flatfield.map(FlatField::load).transpose()?;
    let frames = collect_frames(inputs);
    if frames.is_empty() {
        eprintln!("error: no PNG or TIFF frames found in {inputs:?}");
        return Ok(ExitCode::FAILURE);
    }
    create_dir(out)?;
    let mut gpu = match gpu {
        None => {
            eprintln!("classical pipeline on the CPU (reference implementation)");
            None
        }
        Some(labelling) => {
            let ctx = Arc::new(Context::new()?);
            eprintln!(
                "classical pipeline on {} ({:?}), labelling on the {}",
                ctx.info.name,
                ctx.info.backend,
                if labelling.on_gpu(&ctx) {
                    "GPU"
                } else {
                    "host"
                }
            );
            let mut classic = Classic::new(ctx, params);
            classic.set_flatfield(flat.as_ref());
            classic.set_labelling(labelling);
            Some(classic)
        }
    };
    let code = for_each_frame(&frames, "processed", |path| {
        // The GPU pipeline takes the flat-field out itself; the CPU reference reads it corrected.
        let result = match gpu.as_mut() {
            Some(g) => g.run(&load_frame(path, None)?)?,
            None => emunet::classic::reference::run(&load_frame(path, flat.as_ref())?, &params),
        };
        let stem = stem_of(path);
        Frame::from_u8(result.width, result.height, result.mask.clone())?
            .save_png(&OutputFile::Mask.path(out, &stem))?;
        write_clusters(out, &stem, &result.clusters, json)?;
        let ms = result.elapsed.as_secs_f64() * 1e3;
        Ok((
            format!(
                "{}: {}×{}, {:.1} ms, threshold {:.2}, {} clusters",
                path.display(),
                result.width,
                result.height,
                ms,
                result.threshold,
                result.clusters.len()
            ),
            ms,
        ))
    });
    Ok(code)
}

/// Progress bar over all steps of the run, with the loss and throughput; a line per epoch.
struct TrainBar {
    bar: ProgressBar,
    steps: usize,
    /// Files of the training folder left out.
    skipped: usize,
}

impl emunet::trainer::Progress for TrainBar {
    fn step(&mut self, epoch: usize, step: usize, loss: f32, rate: f64) {
        self.bar
            .set_position((epoch * self.steps + step + 1) as u64);
        self.bar.set_message(format!(
            "epoch {} loss {loss:.4} {rate:.1} crops/s",
            epoch + 1
        ));
    }

    fn skipped(&mut self, problem: &str) {
        self.skipped += 1;
        self.bar.suspend(|| eprintln!("warning: skipped {problem}"));
    }

    fn epoch(&mut self, r: &emunet::trainer::EpochRecord, best: bool) -> bool {
        self.bar.suspend(|| {
            println!(
                "epoch {:>3}  step {:>6}  loss {:.5}  val Jaccard {:.4} at threshold {:.2}{}  lr {:.2e}  {:.0} s",
                r.epoch,
                r.step,
                r.loss,
                r.val_jaccard,
                r.threshold,
                if best { " (best)" } else { "" },
                r.lr,
                r.seconds
            )
        });
        true
    }
}

fn train(options: TrainOptions) -> emunet::Result<ExitCode> {
    let ctx = Arc::new(Context::new()?);
    eprintln!(
        "training UNet({}, {}) on {} ({:?}): {} epochs × {} steps × {} crops of {}², data {:?}",
        options.depth,
        options.channels,
        ctx.info.name,
        ctx.info.backend,
        options.epochs,
        options.steps,
        options.batch,
        options.crop,
        options.data
    );
    let bar = progress_bar((options.epochs * options.steps) as u64, "steps");
    let mut progress = TrainBar {
        bar,
        steps: options.steps,
        skipped: 0,
    };
    let records = emunet::trainer::run(ctx, &options, &mut progress)?;
    progress.bar.finish_and_clear();
    let skipped = progress.skipped;
    if let Some(best) = records
        .iter()
        .max_by(|a, b| a.val_jaccard.total_cmp(&b.val_jaccard))
    {
        println!(
            "best epoch {} (val Jaccard {:.4}) saved as {}",
            best.epoch,
            best.val_jaccard,
            options.out.join("best.safetensors").display()
        );
    }
    if skipped > 0 {
        // Trained on the rest, but the folder needs fixing: a script must notice.
        eprintln!("error: {skipped} file(s) of the training folder were skipped (listed above)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a JSON report (atomically) and says where.
fn write_report(path: &Path, report: &impl serde::Serialize) -> emunet::Result<()> {
    let text = serde_json::to_string_pretty(report).expect("report serialises");
    emunet::model::write_atomic(path, text.as_bytes())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// "WIDTHxHEIGHT" (or ×) as a size.
fn parse_size(size: &str) -> Option<(usize, usize)> {
    size.split_once(['x', '×'])
        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
}

fn eval(
    pred: &Path,
    truth: Option<&Path>,
    grains: Option<&Path>,
    (frame_size, findable_grains): ((usize, usize), usize),
    radius: f64,
    json: Option<&Path>,
) -> emunet::Result<ExitCode> {
    let json_path = json
        .map(Path::to_path_buf)
        .unwrap_or_else(|| pred.join("eval.json"));
    let stacks = cli::stack_eval::has_stack_outputs(pred);
    let Some(truth) = truth else {
        let Some(grains) = grains.filter(|_| stacks) else {
            return Err(emunet::Error::Shape(format!(
                "{}: nothing to score: give --truth (a folder of truth masks) for masks and \
                 clusters, or --grains (the simulator's grains.csv) for a folder of \
                 <view>.grains.csv/.tracks.csv files",
                pred.display()
            )));
        };
        let report = cli::stack_eval::stack_scores(pred, grains, frame_size, findable_grains)?;
        write_report(&json_path, &report)?;
        return Ok(ExitCode::SUCCESS);
    };
    let report = emunet::eval::evaluate(pred, truth, grains, radius)?;
    for s in &report.skipped {
        eprintln!("skipped: {s}");
    }
    let obj = |m: &Option<emunet::eval::Matching>| match m {
        Some(m) => format!(
            "{:>6.3} {:>6.3} {:>6.3}",
            m.efficiency(),
            m.purity(),
            m.rms()
        ),
        None => format!("{:>6} {:>6} {:>6}", "-", "-", "-"),
    };
    println!(
        "{:<24} {:>7} {:>7} {:>7} {:>7} {:>8}  {:>6} {:>6} {:>6}  {:>6} {:>6}",
        "frame",
        "jaccard",
        "dice",
        "prec",
        "recall",
        "clusters",
        "eff",
        "purity",
        "rms",
        "ceil.e",
        "ceil.p"
    );
    for f in &report.frames {
        let ceil = f
            .ceiling
            .map(|c| format!("{:>6.3} {:>6.3}", c.efficiency(), c.purity()))
            .unwrap_or_else(|| format!("{:>6} {:>6}", "-", "-"));
        println!(
            "{:<24} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>8}  {}  {}",
            f.name,
            f.jaccard,
            f.dice,
            f.precision,
            f.recall,
            f.clusters,
            obj(&f.objects),
            ceil
        );
    }
    let ceil = report
        .ceiling
        .map(|c| format!("{:>6.3} {:>6.3}", c.efficiency(), c.purity()))
        .unwrap_or_else(|| format!("{:>6} {:>6}", "-", "-"));
    let clusters: usize = report.frames.iter().map(|f| f.clusters).sum();
    println!(
        "{:<24} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>8}  {}  {}",
        format!("ALL ({} frames)", report.frames.len()),
        report.jaccard,
        report.dice,
        report.precision,
        report.recall,
        clusters,
        obj(&report.objects),
        ceil
    );
    if let Some(m) = &report.objects {
        let (dx, dy) = m.mean_offset();
        println!(
            "objects: {} of {} detectable grains found within {radius} px, {} clusters; mean offset ({dx:+.3}, {dy:+.3}) px; positions from {}",
            m.matched,
            m.grains,
            m.clusters,
            report.frames.first().map_or("-", |f| f.positions.as_str())
        );
    }
    let mut value = serde_json::to_value(&report).expect("report serialises");
    if let (Some(grains), true) = (grains, stacks) {
        let more = cli::stack_eval::stack_scores(pred, grains, frame_size, findable_grains)?;
        if let Some(obj) = value.as_object_mut() {
            obj.extend(more);
        }
    }
    write_report(&json_path, &value)?;
    Ok(if report.frames.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
