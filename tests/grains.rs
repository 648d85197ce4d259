//! Focal stacks to 3D grains: the shift estimate, linking and depth fit on simulated stacks with
//! the truth masks as the segmentation (CPU only: what is tested is the linking, not the
//! network), and the `grains` command end to end.

mod common;
use emunet::cluster_list::frame_clusters;
use emunet::simulate::{self, Preset, SimParams, View};
use emunet::stacks::grains::{LinkParams, Plane, StackGeometry, link_grains, plane_shift};
use emunet::stacks::scores::{TruthGrain, score_grains};
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;

#[test]
fn plane_shift_finds_the_stage_move_among_chance_pairs() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let size = (640, 512);
    let mut point = || (rng.random_range(0.0..640.0), rng.random_range(0.0..512.0));
    let a: Vec<(f64, f64)> = (0..700).map(|_| point()).collect();
    let fresh: Vec<(f64, f64)> = (0..600).map(|_| point()).collect();
    for shift in [(0.7, -1.2), (-2.6, 0.3), (0.0, 0.0)] {
        // A sixth of the grains seen again (with 0.05 px of noise), the rest new.
        let mut b: Vec<(f64, f64)> = a
            .iter()
            .step_by(6)
            .enumerate()
            .map(|(i, &(x, y))| {
                let e = 0.05 * ((i % 5) as f64 - 2.0) / 2.0;
                (x + shift.0 + e, y + shift.1 - e)
            })
            .collect();
        b.extend(&fresh);
        let got = plane_shift(&a, &b, size);
        println!("shift {shift:?}: found {got:?}");
        assert!((got.0 - shift.0).abs() < 0.03 && (got.1 - shift.1).abs() < 0.03);
    }
    // Nothing in common, or a move under 0.3 px (the estimate's own bias): no shift is claimed.
    assert_eq!(plane_shift(&a, &fresh, size), (0.0, 0.0));
    let small: Vec<(f64, f64)> = a.iter().map(|&(x, y)| (x + 0.15, y + 0.2)).collect();
    assert_eq!(plane_shift(&a, &small, size), (0.0, 0.0));
}

/// One simulated view of `k` planes: (frames, per-plane truth clusters, geometry, truth grains).
fn simulated_stack(
    preset: Preset,
    seed: u64,
    k: usize,
) -> (
    Vec<emunet::Frame>,
    Vec<Vec<emunet::clusters::Cluster>>,
    StackGeometry,
    Vec<TruthGrain>,
) {
    let mut params = SimParams::preset(preset);
    params.width = 320;
    params.height = 256;
    let mut view = View::new(&params, seed, 0).unwrap();
    let depths = simulate::focal_planes(&params, seed, 0, k);
    let mut frames = Vec::new();
    let mut clusters = Vec::new();
    let mut truth: BTreeMap<usize, TruthGrain> = BTreeMap::new();
    for (plane, &z) in depths.iter().enumerate() {
        let f = view.render(simulate::frame_name(0, plane, k), z);
        clusters.push(frame_clusters(&f.image, &f.truth, true).clusters);
        for g in &f.grains {
            let inside = g.x_px >= 0.0
                && g.y_px >= 0.0
                && g.x_px < params.width as f64
                && g.y_px < params.height as f64;
            let t = truth.entry(g.grain).or_insert(TruthGrain {
                grain: g.grain,
                x_um: g.x_um,
                y_um: g.y_um,
                z_um: g.z_um,
                track: g.track,
                detectable: false,
            });
            t.detectable |= g.in_focus && g.truth_px >= 1 && inside;
        }
        frames.push(f.image);
    }
    let geometry = StackGeometry {
        pixel_um: params.pixel_um,
        planes_um: depths,
    };
    (frames, clusters, geometry, truth.into_values().collect())
}

#[test]
fn truth_clusters_of_a_stack_link_into_the_true_grains() {
    for (preset, seed) in [(Preset::Nominal, 61), (Preset::Easy, 62)] {
        let (frames, clusters, geometry, truth) = simulated_stack(preset, seed, 16);
        let planes: Vec<Plane> = frames
            .iter()
            .zip(&clusters)
            .map(|(frame, c)| Plane { frame, clusters: c })
            .collect();
        let found = link_grains(&planes, &geometry, &LinkParams::default());
        let s = score_grains(&found, &truth, 0.45, 1.5);
        let (rx, ry, rz) = s.rms();
        println!(
            "{preset:?}: {} grains found, {} detectable: efficiency {:.4}, purity {:.4}, RMS x \
             {rx:.3} y {ry:.3} z {rz:.3} µm",
            found.len(),
            s.detectable,
            s.efficiency(),
            s.purity()
        );
        // The truth mask's own ceiling: touching grains share a cluster, faint ones have 1 px.
        assert!(s.detectable > 500);
        assert!(s.efficiency() > 0.9, "efficiency {}", s.efficiency());
        assert!(s.purity() > 0.97, "purity {}", s.purity());
        assert!(rx < 0.06 && ry < 0.06, "x/y RMS {rx} {ry}");
        assert!(rz < 0.5, "z RMS {rz}");
        // Ids are 0..n in order; every grain's planes are a run inside the stack.
        for (i, g) in found.iter().enumerate() {
            assert_eq!(g.grain, i);
            assert!(g.first_plane <= g.best_plane && g.best_plane < g.first_plane + g.planes);
            assert!(g.first_plane + g.planes <= 16);
        }
    }
}

#[test]
fn grains_command_writes_scored_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let s = sim.to_str().unwrap();
    let (ok, _, err) = common::emunet(&[
        "simulate",
        "--out",
        s,
        "--count",
        "2",
        "--frames-per-view",
        "4",
        "--width",
        "128",
        "--height",
        "96",
        "--seed",
        "63",
    ]);
    assert!(ok, "{err}");
    let manifest: StackGeometry =
        serde_json::from_str(&std::fs::read_to_string(sim.join("images/stack.json")).unwrap())
            .unwrap();
    assert_eq!(manifest.planes_um.len(), 4);
    let out = dir.path().join("g");
    let truth = sim.join("grains.csv");
    let (ok, stdout, err) = common::emunet(&[
        "grains",
        "--out",
        out.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
        sim.join("images").to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("v0000: 4 planes") && stdout.contains("v0001: 4 planes"));
    assert!(stdout.contains("3D grains (matched within 0.45 µm"));
    for view in ["v0000", "v0001"] {
        let csv = std::fs::read_to_string(out.join(format!("{view}.grains.csv"))).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(emunet::stacks::grains::GRAINS_HEADER));
        let rows: Vec<&str> = lines.collect();
        assert!(!rows.is_empty());
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("{view}.grains.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(json.as_array().unwrap().len(), rows.len());
        assert!(rows.iter().all(|r| r.starts_with(&format!("{view},"))));
    }
    // Bad settings are refused with a message.
    let (ok, _, err) = common::emunet(&[
        "grains",
        "--out",
        out.to_str().unwrap(),
        "--link-um",
        "0",
        sim.join("images").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("--link-um"));
}
