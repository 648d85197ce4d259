//! Object scores of saved probability maps against the truth at several mask thresholds, with
//! the clusters built as `segment` builds them (split, blends, sub-pixel positions): the curve
//! behind a model's threshold, from one `segment` run (its `*.prob.npy`) instead of one per
//! threshold.
//!
//! cargo run --release --example threshold_sweep -- SIMDIR SEGMENTDIR [T...]
//!   SIMDIR      a `simulate` folder (images/, grains.csv); SEGMENTDIR holds `<stem>.prob.npy`.

use emunet::Frame;
use emunet::cluster_list::frame_clusters;
use emunet_tools::eval::{Matching, inside_frame, match_positions, read_grains};
use std::path::Path;

fn main() -> emunet::error::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (sim, seg) = (Path::new(&args[1]), Path::new(&args[2]));
    let thresholds: Vec<f32> = if args.len() > 3 {
        args[3..].iter().filter_map(|s| s.parse().ok()).collect()
    } else {
        vec![0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    };
    let grains = read_grains(&sim.join("grains.csv"))?;
    let mut stems: Vec<String> = grains.keys().cloned().collect();
    stems.sort();
    let mut scores = vec![Matching::default(); thresholds.len()];
    for stem in &stems {
        let (frame, _) = Frame::load(&sim.join("images").join(format!("{stem}.png")))?;
        let (prob, _, _) = emunet::npy::read(&seg.join(format!("{stem}.prob.npy")))?;
        let truth = inside_frame(&grains[stem], frame.width, frame.height);
        for (t, s) in thresholds.iter().zip(scores.iter_mut()) {
            let mask: Vec<u8> = prob
                .iter()
                .map(|&p| if p >= *t { 255 } else { 0 })
                .collect();
            let found = frame_clusters(&frame, &mask, true).clusters;
            let pos: Vec<(f64, f64)> = found.iter().map(|c| (c.cog_x, c.cog_y)).collect();
            s.add(match_positions(&truth, &pos, 1.5));
        }
    }
    println!("{} frame(s) of {}", stems.len(), sim.display());
    for (t, s) in thresholds.iter().zip(&scores) {
        println!(
            "  threshold {t:.2}: efficiency {:.4}  purity {:.4}  RMS {:.4} px  clusters {}",
            s.efficiency(),
            s.purity(),
            s.rms(),
            s.clusters
        );
    }
    Ok(())
}
