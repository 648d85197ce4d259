//! `emunet eval`: predicted masks and clusters scored against truth masks and simulator grains;
//! the 3D grains and microtracks of `grains`/`tracks` against the simulator's grains.

use super::stack_eval;
use crate::common::{size, write_report};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `emunet eval`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Folder with <name>.mask.png (or <name>.png) and optionally <name>.clusters.csv; or
    /// with <view>.grains.csv and <view>.tracks.csv.
    #[arg(long)]
    pub pred: PathBuf,
    /// Folder with the truth masks <name>.png (for masks and clusters).
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// The simulator's grains.csv: grain-finding efficiency and purity of the clusters; 3D
    /// grain and track scores of grains.csv/tracks.csv files.
    #[arg(long)]
    pub grains: Option<PathBuf>,
    /// Frame size WIDTHxHEIGHT of the stacks' planes: a truth grain counts as detectable only
    /// when its centre lies inside.
    #[arg(long, value_parser = size, default_value = "1280x1024")]
    pub frame_size: (usize, usize),
    /// Truth tracks with at least this many grains in the layer count as findable.
    #[arg(long, default_value_t = 8)]
    pub findable_grains: usize,
    /// Matching radius in pixels.
    #[arg(long, default_value_t = 1.5)]
    pub radius: f64,
    /// Where to write the JSON report (default PRED/eval.json).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Scores what it finds in PRED, prints a table and writes the JSON report.
pub fn run(args: Args) -> emunet::Result<ExitCode> {
    let Args {
        pred,
        truth,
        grains,
        frame_size,
        findable_grains,
        radius,
        json,
    } = args;
    let (pred, truth, grains, json) = (
        pred.as_path(),
        truth.as_deref(),
        grains.as_deref(),
        json.as_deref(),
    );
    let json_path = json
        .map(Path::to_path_buf)
        .unwrap_or_else(|| pred.join("eval.json"));
    let stacks = stack_eval::has_stack_outputs(pred);
    let Some(truth) = truth else {
        let Some(grains) = grains.filter(|_| stacks) else {
            return Err(emunet::Error::Shape(format!(
                "{}: nothing to score: give --truth (a folder of truth masks) for masks and \
                 clusters, or --grains (the simulator's grains.csv) for a folder of \
                 <view>.grains.csv/.tracks.csv files",
                pred.display()
            )));
        };
        let report = stack_eval::stack_scores(pred, grains, frame_size, findable_grains)?;
        write_report(&json_path, &report)?;
        return Ok(ExitCode::SUCCESS);
    };
    let report = emunet_tools::eval::evaluate(pred, truth, grains, radius)?;
    for s in &report.skipped {
        eprintln!("skipped: {s}");
    }
    let obj = |m: &Option<emunet_tools::eval::Matching>| match m {
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
        let more = stack_eval::stack_scores(pred, grains, frame_size, findable_grains)?;
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
