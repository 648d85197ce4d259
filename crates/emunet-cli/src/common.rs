//! What several commands share: finding frames, reading them, output folders and files,
//! progress bars, per-frame tallies, JSON reports, and the value parsers of structured options.

use emunet::clusters;
use emunet::flatfield::FlatField;
use emunet::{Choice, Frame};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use emunet_tools::formats::parts::stem_of;

/// A clap value parser for a library option with a fixed set of values ([`Choice`]): `--help`
/// lists them, and a bad value gets clap's message and exit status 2.
pub fn choice<T: Choice + Send + Sync>() -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(T::names())
        .map(|name| T::from_name(&name).expect("clap accepts listed names only"))
}

/// "WIDTHxHEIGHT" (or ×) as a size.
pub fn size(text: &str) -> Result<(usize, usize), String> {
    text.split_once(['x', '×'])
        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
        .ok_or_else(|| "expected WIDTHxHEIGHT (e.g. 1280x1024)".into())
}

/// A size to render frames at: each side at least 16 pixels.
pub fn frame_size(text: &str) -> Result<(usize, usize), String> {
    size(text)
        .ok()
        .filter(|&(w, h)| w >= 16 && h >= 16)
        .ok_or_else(|| "expected WIDTHxHEIGHT, each at least 16 (e.g. 1280x1024)".into())
}

/// "I/N" with I < N: the I-th (from 0) of N shards.
pub fn shard(text: &str) -> Result<(usize, usize), String> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => Err("expected I/N with 0 ≤ I < N (shards count from 0), e.g. 3/16".into()),
    }
}

/// A count of at least one.
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number of at least 1".into()),
    }
}

/// A number above 0 (NaN is not).
pub fn positive(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v > 0.0 => Ok(v),
        _ => Err("expected a number above 0".into()),
    }
}

/// Expands folders into their PNG/TIFF files (sorted); keeps files as given.
pub fn collect_frames(inputs: &[PathBuf]) -> Vec<PathBuf> {
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

/// Creates `dir` and its parents.
pub fn create_dir(dir: &Path) -> emunet::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| emunet::Error::io(dir, e))
}

/// Reads a frame (printing its warnings) and takes the flat-field's fixed pattern out of it.
pub fn load_frame(path: &Path, flat: Option<&FlatField>) -> emunet::Result<Frame> {
    let (frame, warnings) = Frame::load(path)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    match flat {
        Some(f) => f.apply(&frame),
        None => Ok(frame),
    }
}

/// One frame's output files by kind: the one place their names are made.
#[derive(Clone, Copy)]
pub enum OutputFile {
    Mask,
    Prob,
    Csv,
    Json,
    Overlay,
}

impl OutputFile {
    /// OUT/<stem>.<kind's suffix>.
    pub fn path(self, out: &Path, stem: &str) -> PathBuf {
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

/// Writes OUT/<stem>.clusters.csv, and OUT/<stem>.clusters.json when asked.
pub fn write_clusters(
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

/// A progress bar over `len` items called `unit`, with elapsed time, ETA and a message.
pub fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{elapsed}} (eta {{eta}})  {{msg}}");
    bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
    bar
}

/// Runs `work` on every frame with a progress bar; prints each frame's line (or its error, named)
/// and a summary with the mean time. A failed frame does not stop the others; the exit status
/// is non-zero if any failed.
pub fn for_each_frame(
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
pub struct Tally {
    bar: ProgressBar,
    /// Frames done and failed so far.
    pub ok: usize,
    pub failed: usize,
    total_ms: f64,
    // Frames overlap in the pipeline, so the mean per-frame time is a latency: the wall time
    // since the start gives the throughput.
    start: std::time::Instant,
}

impl Tally {
    pub fn new(len: usize) -> Self {
        Tally {
            bar: progress_bar(len as u64, "frames"),
            ok: 0,
            failed: 0,
            total_ms: 0.0,
            start: std::time::Instant::now(),
        }
    }

    pub fn record(&mut self, path: &Path, result: emunet::Result<(String, f64)>) {
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

    pub fn finish(self, verb: &str) -> ExitCode {
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

/// Writes a JSON report (atomically) and says where.
pub fn write_report(path: &Path, report: &impl serde::Serialize) -> emunet::Result<()> {
    let text = serde_json::to_string_pretty(report).expect("report serialises");
    emunet::model::write_atomic(path, text.as_bytes())?;
    println!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_i_of_n() {
        assert_eq!(shard("3/16"), Ok((3, 16)));
        assert_eq!(shard(" 0 / 1 "), Ok((0, 1)));
        for bad in ["16/16", "1/0", "-1/4", "a/b", "3", "3/4/5", ""] {
            assert!(shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_are_width_by_height() {
        assert_eq!(size("1280x1024"), Ok((1280, 1024)));
        assert_eq!(size("8×8"), Ok((8, 8)));
        assert_eq!(frame_size("96×64"), Ok((96, 64)));
        for bad in ["96by64", "x", "1280x", "-1x5"] {
            assert!(size(bad).is_err() && frame_size(bad).is_err(), "{bad}");
        }
        for small in ["8x64", "64x8"] {
            assert!(size(small).is_ok() && frame_size(small).is_err(), "{small}");
        }
    }

    #[test]
    fn counts_and_lengths_are_checked() {
        assert_eq!(at_least_one("2"), Ok(2));
        assert!(at_least_one("0").is_err() && at_least_one("-1").is_err());
        assert_eq!(positive("0.4"), Ok(0.4));
        assert_eq!(positive("inf"), Ok(f64::INFINITY));
        for bad in ["0", "-1", "nan", "-inf", "x"] {
            assert!(positive(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn output_files_are_named_by_stem() {
        let out = Path::new("/o");
        assert_eq!(OutputFile::Mask.path(out, "f"), Path::new("/o/f.mask.png"));
        assert_eq!(OutputFile::Prob.path(out, "f"), Path::new("/o/f.prob.npy"));
        assert_eq!(
            OutputFile::Csv.path(out, "f"),
            Path::new("/o/f.clusters.csv")
        );
    }
}
