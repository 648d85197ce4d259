//! `emunet eval` on what `grains` and `tracks` wrote: every `<view>.grains.csv` and
//! `<view>.tracks.csv` of the folder scored against the simulator's `grains.csv`, with the same
//! matching as `grains --truth` and `tracks --truth`.

use emunet_tools::stacks::scores::{
    self, GRAIN_RADIUS_XY_UM, GRAIN_RADIUS_Z_UM, GrainScores, TrackScores,
};
use std::path::{Path, PathBuf};

/// The folder's files whose names end in `suffix`, in name order.
fn files_ending(dir: &Path, suffix: &str) -> emunet::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| emunet::Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    Ok(out)
}

/// True when the folder holds grains or tracks files to score.
pub fn has_stack_outputs(dir: &Path) -> bool {
    [".grains.csv", ".tracks.csv"]
        .iter()
        .any(|s| files_ending(dir, s).is_ok_and(|f| !f.is_empty()))
}

/// Scores the folder's grains and tracks, prints a line per view and the totals, and returns
/// them as JSON (`grains_3d`, `tracks`; absent when the folder has none of that kind).
pub fn stack_scores(
    pred: &Path,
    truth_path: &Path,
    frame_size: (usize, usize),
    findable_grains: usize,
) -> emunet::Result<serde_json::Map<String, serde_json::Value>> {
    let mut report = serde_json::Map::new();
    let no_view = |view: &str| {
        emunet::Error::Shape(format!(
            "{}: no grains of view {view}",
            truth_path.display()
        ))
    };
    let grain_files = files_ending(pred, ".grains.csv")?;
    if !grain_files.is_empty() {
        let truth = scores::read_truth(truth_path, frame_size)?;
        let mut total = GrainScores::default();
        for path in &grain_files {
            let (view, found) = super::tracks::read_grains(path)?;
            let t = truth.get(&view).ok_or_else(|| no_view(&view))?;
            let s = scores::score_grains(&found, t, GRAIN_RADIUS_XY_UM, GRAIN_RADIUS_Z_UM);
            println!("{view}: grains {}", grain_line(&s));
            total.add(&s);
        }
        println!(
            "3D grains of {} view(s) (matched within {GRAIN_RADIUS_XY_UM} µm across and \
             {GRAIN_RADIUS_Z_UM} µm in depth; detectable: in focus in a plane, owning a truth \
             pixel, centre inside {}×{} px): {}",
            grain_files.len(),
            frame_size.0,
            frame_size.1,
            grain_line(&total)
        );
        let (rx, ry, rz) = total.rms();
        report.insert(
            "grains_3d".into(),
            serde_json::json!({
                "views": grain_files.len(),
                "efficiency": total.efficiency(),
                "purity": total.purity(),
                "rms_x_um": rx, "rms_y_um": ry, "rms_z_um": rz,
                "radius_xy_um": GRAIN_RADIUS_XY_UM, "radius_z_um": GRAIN_RADIUS_Z_UM,
                "counts": total,
            }),
        );
    }
    let track_files = files_ending(pred, ".tracks.csv")?;
    if !track_files.is_empty() {
        // Every truth grain of a track counts for track truth, wherever it lies.
        let truth = scores::read_truth(truth_path, (usize::MAX, usize::MAX))?;
        let mut total = TrackScores::default();
        for path in &track_files {
            let text = std::fs::read_to_string(path).map_err(|source| emunet::Error::Io {
                path: path.clone(),
                source,
            })?;
            let (view, found) =
                emunet_tools::stacks::tracks::read_tracks_csv(&text, &path.display().to_string())?;
            // A view without tracks has a header only: its name comes from the file's.
            let view = if view.is_empty() {
                crate::common::stem_of(path)
                    .trim_end_matches(".tracks")
                    .to_string()
            } else {
                view
            };
            let t = truth.get(&view).ok_or_else(|| no_view(&view))?;
            let s = scores::score_tracks(&found, t, findable_grains);
            println!("{view}: tracks {}", track_line(&s, findable_grains, 1));
            total.add(&s);
        }
        println!(
            "tracks of {} view(s) (matched within 2 µm and 0.05 in slope): {}",
            track_files.len(),
            track_line(&total, findable_grains, track_files.len())
        );
        let (dt, dpos) = total.resolution();
        report.insert(
            "tracks".into(),
            serde_json::json!({
                "views": track_files.len(),
                "findable_grains": findable_grains,
                "efficiency": total.efficiency(),
                "fakes_per_view": total.fakes as f64 / track_files.len() as f64,
                "slope_resolution_mrad": dt,
                "position_resolution_um": dpos,
                "counts": total,
            }),
        );
    }
    Ok(report)
}

fn grain_line(s: &GrainScores) -> String {
    let (rx, ry, rz) = s.rms();
    format!(
        "efficiency {:.4} ({}/{}), purity {:.4} ({}/{}), RMS x {:.3} y {:.3} z {:.3} µm",
        s.efficiency(),
        s.matched_detectable,
        s.detectable,
        s.purity(),
        s.found_matched,
        s.found,
        rx,
        ry,
        rz
    )
}

fn track_line(s: &TrackScores, findable_grains: usize, views: usize) -> String {
    let (dt, dpos) = s.resolution();
    format!(
        "efficiency {:.4} ({}/{} with ≥ {findable_grains} grains in the layer), {} fake ({:.2} \
         per view), slope resolution {:.1} mrad, position {:.2} µm",
        s.efficiency(),
        s.found_findable,
        s.findable,
        s.fakes,
        s.fakes as f64 / views.max(1) as f64,
        dt,
        dpos
    )
}
