//! `emunet train`: a UNet(D, C) trained on the GPU from frame/mask pairs or from frames
//! simulated on the fly, with validation, checkpoints, resumption and curves.

use crate::common::{choice, progress_bar};
use emunet::Context;
use emunet::model::Normalization;
use emunet_tools::simulate::Preset;
use emunet_tools::trainer::{DataSpec, TrainOptions};
use indicatif::ProgressBar;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// How training crops are augmented (see `emunet train --help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AugmentMode {
    Auto,
    Full,
    Geometric,
    Crops,
}

/// `emunet train`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Folder with images/ and masks/ (same stems; PNG or TIFF, 8/16-bit).
    #[arg(
        long,
        conflicts_with = "simulate",
        required_unless_present = "simulate"
    )]
    pub data: Option<PathBuf>,
    /// Draw training frames from the simulator (validation: full-size simulated frames).
    #[arg(long)]
    pub simulate: bool,
    /// Simulator preset for --simulate.
    #[arg(long, value_parser = choice::<Preset>(), default_value_t = Preset::Nominal)]
    pub preset: Preset,
    #[arg(long)]
    pub out: PathBuf,
    /// Encoder depth D.
    #[arg(long, default_value_t = 2)]
    pub depth: usize,
    /// Base channels C.
    #[arg(long, default_value_t = 16)]
    pub channels: usize,
    #[arg(long, default_value_t = 14)]
    pub epochs: usize,
    /// Training steps per epoch.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Crops per step.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Side of the square training crops (a multiple of 2^D).
    #[arg(long, default_value_t = 128)]
    pub crop: usize,
    /// Peak learning rate (cosine decay to 5 % of it).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f32,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f32,
    /// Weight of the cluster class in the cross-entropy (clusters are ~1–3 % of pixels).
    #[arg(long, default_value_t = 3.0)]
    pub pos_weight: f32,
    /// Weight of the soft-Jaccard term added to the cross-entropy.
    #[arg(long, default_value_t = 0.5)]
    pub jaccard_weight: f32,
    /// Augmentation: `geometric` = crops, flips and quarter turns; `full` adds gamma,
    /// contrast, brightness, noise and blur jitter; `crops` = random crops only, for labels
    /// that are not symmetric under flips and turns (the classical pipeline's masks sit half
    /// a pixel down-right of the grains); `auto` = geometric for --simulate (its labels
    /// follow the rendered grey levels), full for --data.
    #[arg(long, value_enum, default_value_t = AugmentMode::Auto)]
    pub augment: AugmentMode,
    /// --simulate: train on the soft target sigmoid((own darkness − 20 gl) / S) instead of
    /// the 0/1 truth mask (its 0.5 level is the mask); S in grey levels, 0 = the mask.
    #[arg(long, default_value_t = 0.0)]
    pub soft_target: f32,
    /// Input normalisation: `median` = grey levels about the frame's median at a fixed
    /// scale (keeps the truth's absolute contrast); `zscore` = docs/spec/design.md §2's per-frame
    /// z-score.
    #[arg(long, value_parser = choice::<Normalization>(), default_value_t = emunet::model::DEFAULT_NORMALIZATION)]
    pub normalization: Normalization,
    /// --data: take the camera's fixed pattern (a file from `emunet flatfield`) out of
    /// every frame as it is read; segment with the same `--flatfield` afterwards.
    #[arg(long, requires = "data")]
    pub flatfield: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of the files held out for validation (--data).
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Full-size frames rendered for validation (--simulate).
    #[arg(long, default_value_t = 3)]
    pub val_frames: usize,
    /// Start from these weights instead of random ones (fine-tuning, for example
    /// `--init crates/emunet/weights/default.safetensors` on a station's own frames and masks); their depth,
    /// channels and input rule must match the options.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Continue the run saved in OUT (same options) after its last finished epoch.
    #[arg(long)]
    pub resume: bool,
}

/// Trains with a progress bar and a line per epoch; the exit status is non-zero when files of
/// the training folder had to be skipped.
pub fn run(args: Args) -> emunet::Result<ExitCode> {
    let Args {
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
    } = args;
    train(TrainOptions {
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
    })
}

/// Progress bar over all steps of the run, with the loss and throughput; a line per epoch.
struct TrainBar {
    bar: ProgressBar,
    steps: usize,
    /// Files of the training folder left out.
    skipped: usize,
}

impl emunet_tools::trainer::Progress for TrainBar {
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

    fn epoch(&mut self, r: &emunet_tools::trainer::EpochRecord, best: bool) -> bool {
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
    let records = emunet_tools::trainer::run(ctx, &options, &mut progress)?;
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
