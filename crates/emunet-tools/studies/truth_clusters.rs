//! How well clusters can find grains when the mask is perfect: the truth mask of simulated frames
//! as the prediction, scored like `emunet eval` (detectable grains, one-to-one within 1.5 px)
//! with three cluster builders: plain connected components at their centroids (eval's ceiling),
//! the same with sub-pixel positions, and split at separate grains with sub-pixel positions.
//!
//! cargo run --release --example truth_clusters -- PRESET FRAMES SEED [SIZE]

use emunet::cluster_list::frame_clusters;
use emunet::clusters;
use emunet_tools::eval::{Matching, inside_frame, mask_centroids, match_positions};
use emunet_tools::simulate::{Preset, SimParams, View, focal_planes};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let preset = match args.get(1).map(String::as_str).unwrap_or("nominal") {
        "easy" => Preset::Easy,
        "hard" => Preset::Hard,
        "mixed" => Preset::Mixed,
        _ => Preset::Nominal,
    };
    let frames: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(777);
    let mut p = SimParams::preset(preset);
    if let Some(size) = args.get(4).and_then(|s| s.parse().ok()) {
        (p.width, p.height) = (size, size);
    }
    let (w, h) = (p.width, p.height);
    let mut scores = [Matching::default(); 3];
    for v in 0..frames {
        let z = focal_planes(&p, seed, v, 1)[0];
        let f = View::new(&p, seed, v).unwrap().render(format!("f{v}"), z);
        let grains: Vec<(f64, f64)> = f
            .grains
            .iter()
            .filter(|g| g.in_focus && g.truth_px >= 1)
            .map(|g| (g.x_px, g.y_px))
            .collect();
        let grains = inside_frame(&grains, w, h);
        let cog =
            |c: &[clusters::Cluster]| c.iter().map(|c| (c.cog_x, c.cog_y)).collect::<Vec<_>>();
        let plain = mask_centroids(&f.truth, w, h);
        let unsplit = frame_clusters(&f.image, &f.truth, false).clusters;
        let split = frame_clusters(&f.image, &f.truth, true).clusters;
        for (s, pos) in scores.iter_mut().zip([plain, cog(&unsplit), cog(&split)]) {
            s.add(match_positions(&grains, &pos, 1.5));
        }
    }
    println!("{preset:?}, {frames} frame(s) of {w}×{h}, seed {seed}: truth mask as the prediction");
    for (name, s) in [
        "centroids (eval's ceiling)",
        "sub-pixel, unsplit",
        "sub-pixel, split",
    ]
    .iter()
    .zip(scores)
    {
        let (mx, my) = s.mean_offset();
        println!(
            "  {name:<28} efficiency {:.4}  purity {:.4}  RMS {:.4} px  offset ({mx:+.4}, {my:+.4})  clusters {}",
            s.efficiency(),
            s.purity(),
            s.rms(),
            s.clusters
        );
    }
}
