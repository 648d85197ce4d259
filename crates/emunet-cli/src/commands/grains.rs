//! `emunet grains`: focal stacks in, 3D grains out. Every plane is segmented (batches of 8
//! through the engine) and its clusters measured as `segment` does; consecutive planes' clusters
//! are linked into grains with sub-plane depth ([`emunet_tools::stacks::grains`]); with `--truth` the
//! grains are scored against the simulator's `grains.csv`.

use crate::common::positive;
use emunet::{Context, Frame, Model, Unet};
use emunet_tools::stacks::grains::{self, LinkParams, Plane, StackGeometry};
use emunet_tools::stacks::scores::{self, GRAIN_RADIUS_XY_UM, GRAIN_RADIUS_Z_UM, GrainScores};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// `emunet grains`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Weights file; default: the shipped model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Probability threshold for the planes' masks [default: 0.05, chosen for the shipped
    /// model (docs/accuracy.md, Focal stacks); a weights file's own threshold is tuned for
    /// single frames, and a model of your own may want its own stack threshold].
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Plane spacing (µm) for folders without a stack.json.
    #[arg(long, value_parser = positive, default_value_t = 2.9)]
    pub step_um: f64,
    /// Pixel size (µm) for folders without a stack.json.
    #[arg(long, value_parser = positive, default_value_t = 0.30)]
    pub pixel_um: f64,
    /// Clusters of consecutive planes closer than this (µm) are one grain.
    #[arg(long, value_parser = positive, default_value_t = 0.4)]
    pub link_um: f64,
    /// The simulator's grains.csv: score the grains (3D efficiency, purity, x/y/z RMS).
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Stack folders.
    #[arg(required = true)]
    pub stacks: Vec<PathBuf>,
}

/// One view: its name, frames in focal order and their depths.
struct View {
    name: String,
    frames: Vec<PathBuf>,
    geometry: StackGeometry,
}

/// The views of the stack folders: frames named `<view>_z<k>` are grouped by view and ordered by
/// k; a folder of other names is one view in name order. Depths come from the folder's
/// `stack.json`, else plane k is at k · step.
fn views(o: &Args) -> emunet::Result<Vec<View>> {
    let mut out = Vec::new();
    for dir in &o.stacks {
        let manifest = emunet_tools::stacks::read_manifest(dir)?;
        let frames = crate::common::collect_frames(std::slice::from_ref(dir));
        let mut groups: BTreeMap<String, Vec<(usize, PathBuf)>> = BTreeMap::new();
        let folder_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "view".into());
        for (i, path) in frames.into_iter().enumerate() {
            let stem = crate::common::stem_of(&path);
            let (view, plane) = match emunet_tools::stacks::view_and_plane(&stem) {
                (v, Some(k)) => (v, k),
                _ => (folder_name.clone(), i),
            };
            groups.entry(view).or_default().push((plane, path));
        }
        for (name, mut planes) in groups {
            planes.sort();
            let pixel_um = manifest.as_ref().map_or(o.pixel_um, |m| m.pixel_um);
            let planes_um = planes
                .iter()
                .map(|&(k, _)| match &manifest {
                    Some(m) => m.planes_um.get(k).copied().ok_or_else(|| {
                        emunet::Error::Shape(format!(
                            "{}: plane {k} of view {name} is not in its stack.json ({} planes)",
                            dir.display(),
                            m.planes_um.len()
                        ))
                    }),
                    None => Ok(k as f64 * o.step_um),
                })
                .collect::<emunet::Result<Vec<f64>>>()?;
            out.push(View {
                name,
                frames: planes.into_iter().map(|(_, p)| p).collect(),
                geometry: StackGeometry {
                    pixel_um,
                    planes_um,
                },
            });
        }
    }
    Ok(out)
}

/// Segments and links every stack; scores the grains with `--truth`.
pub fn run(o: Args) -> emunet::Result<ExitCode> {
    let views = views(&o)?;
    if views.is_empty() {
        eprintln!("error: no PNG or TIFF frames found in {:?}", o.stacks);
        return Ok(ExitCode::FAILURE);
    }
    crate::common::create_dir(&o.out)?;
    let model = match &o.weights {
        Some(path) => Model::load(path)?,
        None => Model::shipped()?,
    };
    let ctx = Arc::new(Context::new()?);
    let mut unet = Unet::new(ctx.clone(), &model)?;
    unet.set_threshold(o.threshold.unwrap_or(grains::STACK_THRESHOLD))?;
    eprintln!(
        "{} on {}, planes' threshold {}{}",
        o.weights
            .as_ref()
            .map_or("shipped model".into(), |p| p.display().to_string()),
        ctx.info.name,
        unet.threshold,
        if o.threshold.is_none() {
            " (the stack default; --threshold to change)"
        } else {
            ""
        }
    );
    let link = LinkParams {
        link_um: o.link_um,
        ..Default::default()
    };
    let mut truth = None;
    let mut total = GrainScores::default();
    let (mut seg_s, mut link_s) = (0.0, 0.0);
    for view in &views {
        let start = Instant::now();
        // Frames at another pixel size than the model's are segmented at the model's scale.
        unet.set_pixel_um(Some(view.geometry.pixel_um))?;
        let frames: Vec<Frame> = view
            .frames
            .iter()
            .map(|p| crate::common::load_frame(p, None))
            .collect::<emunet::Result<_>>()?;
        let mut maps = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(8) {
            for (seg, frame) in unet.segment_batch(chunk)?.iter().zip(chunk) {
                maps.push(seg.cluster_map(frame));
            }
        }
        let seg_time = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let planes: Vec<Plane> = maps
            .iter()
            .zip(&frames)
            .map(|(map, frame)| Plane::of(map, frame.width))
            .collect();
        let found = grains::link_grains(&planes, &view.geometry, &link);
        let link_time = start.elapsed().as_secs_f64();
        seg_s += seg_time;
        link_s += link_time;
        emunet::model::write_atomic(
            &o.out.join(format!("{}.grains.csv", view.name)),
            grains::grains_csv(&view.name, &found).as_bytes(),
        )?;
        let json = serde_json::to_string_pretty(&found)
            .map_err(|e| emunet::Error::Shape(e.to_string()))?;
        emunet::model::write_atomic(
            &o.out.join(format!("{}.grains.json", view.name)),
            json.as_bytes(),
        )?;
        let multi = found.iter().filter(|g| g.planes > 1).count();
        let mut line = format!(
            "{}: {} planes, {} clusters, {} grains ({} on 2+ planes); segmentation {:.2} s, \
             linking and depth {:.3} s ({:.1} %)",
            view.name,
            frames.len(),
            maps.iter().map(|m| m.clusters.len()).sum::<usize>(),
            found.len(),
            multi,
            seg_time,
            link_time,
            100.0 * link_time / seg_time
        );
        if let Some(path) = &o.truth {
            if truth.is_none() {
                truth = Some(scores::read_truth(
                    path,
                    (frames[0].width, frames[0].height),
                )?);
            }
            let Some(t) = truth.as_ref().and_then(|t| t.get(&view.name)) else {
                return Err(emunet::Error::Shape(format!(
                    "{}: no grains of view {}",
                    path.display(),
                    view.name
                )));
            };
            let s = scores::score_grains(&found, t, GRAIN_RADIUS_XY_UM, GRAIN_RADIUS_Z_UM);
            let (rx, ry, rz) = s.rms();
            line.push_str(&format!(
                "; efficiency {:.4} ({}/{}), purity {:.4}, RMS x {:.3} y {:.3} z {:.3} µm",
                s.efficiency(),
                s.matched_detectable,
                s.detectable,
                s.purity(),
                rx,
                ry,
                rz
            ));
            total.add(&s);
        }
        println!("{line}");
    }
    let mut summary = format!(
        "{} view(s): segmentation {:.1} s, linking and depth {:.2} s ({:.1} % of segmentation)",
        views.len(),
        seg_s,
        link_s,
        100.0 * link_s / seg_s
    );
    if o.truth.is_some() {
        let (rx, ry, rz) = total.rms();
        summary.push_str(&format!(
            "\n3D grains (matched within {GRAIN_RADIUS_XY_UM} µm across and {GRAIN_RADIUS_Z_UM} µm in depth): \
             efficiency {:.4} ({}/{} detectable), purity {:.4} ({}/{}), RMS x {:.3} µm, y {:.3} \
             µm, z {:.3} µm",
            total.efficiency(),
            total.matched_detectable,
            total.detectable,
            total.purity(),
            total.found_matched,
            total.found,
            rx,
            ry,
            rz
        ));
    }
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}
