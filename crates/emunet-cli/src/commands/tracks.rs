//! `emunet tracks`: microtracks from the grains `emunet grains` wrote ([`emunet_tools::stacks::tracks`]);
//! with `--truth` the tracks are scored against the simulator's `grains.csv`.

use crate::common::positive;
use emunet_tools::stacks::grains::Grain;
use emunet_tools::stacks::scores::{self, TrackScores};
use emunet_tools::stacks::tracks::{self, TrackParams};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Reads one `<view>.grains.csv`: (view, grains).
pub fn read_grains(path: &Path) -> emunet::Result<(String, Vec<Grain>)> {
    let text = std::fs::read_to_string(path).map_err(|source| emunet::Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |m: String| emunet::Error::Shape(format!("{}: {m}", path.display()));
    let mut lines = text.lines();
    if lines.next() != Some(emunet_tools::stacks::grains::GRAINS_HEADER) {
        return Err(bad(
            "not a grains.csv of `emunet grains` (header differs)".into()
        ));
    }
    let mut view = String::new();
    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 14 {
            return Err(bad(format!("row {} has {} fields, not 14", n + 2, f.len())));
        }
        let num = |k: usize| -> emunet::Result<f64> {
            f[k].parse()
                .map_err(|_| bad(format!("row {}: field {} is not a number", n + 2, k + 1)))
        };
        view = f[0].to_string();
        out.push(Grain {
            grain: num(1)? as usize,
            x_px: num(2)?,
            y_px: num(3)?,
            x_um: num(4)?,
            y_um: num(5)?,
            z_um: num(6)?,
            best_plane: num(7)? as usize,
            first_plane: num(8)? as usize,
            planes: num(9)? as usize,
            area: num(10)? as usize,
            volume: num(11)?,
            peak: num(12)?,
            quality: num(13)? as u32,
        });
    }
    Ok((view, out))
}

/// `emunet tracks`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Largest |tan θ| in x and y.
    #[arg(long, value_parser = positive, default_value_t = 0.6)]
    pub max_slope: f64,
    /// Fewest grains of a track (the default was chosen by measurement: docs/accuracy.md); with
    /// --max-chance the density of the view's fog decides how many more a track needs.
    #[arg(long, value_parser = clap::value_parser!(u32).range(3..), default_value_t = 6)]
    pub min_grains: u32,
    /// Grains within this distance (µm) of a track's line belong to it.
    #[arg(long, value_parser = positive, default_value_t = 0.55)]
    pub fit_um: f64,
    /// Largest chance probability of a track: that fog alone, at the view's grain density,
    /// puts its grain count in its tube (Poisson; 1: off; the default was chosen by measurement:
    /// docs/accuracy.md).
    #[arg(long, value_parser = positive, default_value_t = 1e-9)]
    pub max_chance: f64,
    /// The simulator's grains.csv: score the tracks.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Truth tracks with at least this many grains in the layer count as findable.
    #[arg(long, default_value_t = 8)]
    pub findable_grains: usize,
    /// <view>.grains.csv files of `emunet grains`.
    #[arg(required = true)]
    pub grains: Vec<PathBuf>,
}

/// Finds the tracks of every grains file; scores them with `--truth`.
pub fn run(args: Args) -> emunet::Result<ExitCode> {
    let params = TrackParams {
        max_slope: args.max_slope,
        min_grains: args.min_grains as usize,
        fit_um: args.fit_um,
        max_chance: args.max_chance,
        ..Default::default()
    };
    tracks(
        &args.out,
        &params,
        args.truth.as_deref().map(|t| (t, args.findable_grains)),
        &args.grains,
    )
}

fn tracks(
    out: &Path,
    params: &TrackParams,
    truth: Option<(&Path, usize)>,
    inputs: &[PathBuf],
) -> emunet::Result<ExitCode> {
    crate::common::create_dir(out)?;
    let mut truth_views = None;
    let mut total = TrackScores::default();
    let mut seconds = 0.0;
    for path in inputs {
        let (view, grains) = read_grains(path)?;
        let start = Instant::now();
        let found = tracks::find_tracks(&grains, params);
        let took = start.elapsed().as_secs_f64();
        seconds += took;
        emunet::model::write_atomic(
            &out.join(format!("{view}.tracks.csv")),
            tracks::tracks_csv(&view, &found).as_bytes(),
        )?;
        let mut line = format!(
            "{view}: {} grains, {} tracks in {:.2} s",
            grains.len(),
            found.len(),
            took
        );
        if let Some((truth_path, min_grains)) = truth {
            if truth_views.is_none() {
                // Frame size does not matter for track truth: every grain counts.
                truth_views = Some(scores::read_truth(truth_path, (usize::MAX, usize::MAX))?);
            }
            let Some(t) = truth_views.as_ref().and_then(|v| v.get(&view)) else {
                return Err(emunet::Error::Shape(format!(
                    "{}: no grains of view {view}",
                    truth_path.display()
                )));
            };
            let s = scores::score_tracks(&found, t, min_grains);
            let (dt, dpos) = s.resolution();
            line.push_str(&format!(
                "; found {}/{} tracks with ≥ {min_grains} grains, {} fake, slope resolution {:.1} \
                 mrad, position {:.2} µm",
                s.found_findable, s.findable, s.fakes, dt, dpos
            ));
            total.add(&s);
        }
        println!("{line}");
    }
    if let Some((_, min_grains)) = truth {
        let (dt, dpos) = total.resolution();
        println!(
            "{} view(s), {:.2} s: track efficiency {:.4} ({}/{} with ≥ {min_grains} grains in the \
             layer), {} fake tracks ({:.2} per view), slope resolution {:.1} mrad, position \
             resolution {:.2} µm (per projection)",
            inputs.len(),
            seconds,
            total.efficiency(),
            total.found_findable,
            total.findable,
            total.fakes,
            total.fakes as f64 / inputs.len().max(1) as f64,
            dt,
            dpos
        );
    }
    Ok(ExitCode::SUCCESS)
}
