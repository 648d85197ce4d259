//! `emunet init`: a freshly initialised (He-normal) UNet(D, C) weights file.

use crate::common::choice;
use emunet::Model;
use emunet::model::Normalization;
use std::path::PathBuf;
use std::process::ExitCode;

/// `emunet init`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Encoder depth D (number of 2×2 poolings); frames must be at least 2^D on a side.
    #[arg(long, default_value_t = 4)]
    pub depth: usize,
    /// Base channel count C (level l has C·2^l channels).
    #[arg(long, default_value_t = 16)]
    pub channels: usize,
    /// Seed of the initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Input normalisation rule recorded in the file (see `train --help`).
    #[arg(long, value_parser = choice::<Normalization>(), default_value_t = emunet::model::DEFAULT_NORMALIZATION)]
    pub normalization: Normalization,
    /// Output weights file (.safetensors).
    #[arg(long)]
    pub out: PathBuf,
}

/// Writes the file and says what it holds.
pub fn run(args: Args) -> emunet::Result<ExitCode> {
    let Args {
        depth,
        channels,
        seed,
        normalization,
        out,
    } = args;
    let mut model = Model::init_he(depth, channels, seed)?;
    model.set_normalization(normalization);
    model.save(&out)?;
    println!(
        "wrote {} : UNet({depth}, {channels}), {} parameters, He-normal init, seed {seed}, {} normalisation",
        out.display(),
        model.parameter_count(),
        normalization.name()
    );
    Ok(ExitCode::SUCCESS)
}
