//! Focal stacks to 3D grains: the shift estimate, linking and depth fit on simulated stacks with
//! the truth masks as the segmentation (CPU only: what is tested is the linking, not the
//! network), and the `grains` command end to end.

use crate::common;
use emunet::cluster_list::frame_clusters;
use emunet_tools::simulate::{self, Preset, SimParams, View};
use emunet_tools::stacks::grains::{LinkParams, Plane, StackGeometry, link_grains, plane_shift};
use emunet_tools::stacks::scores::{TruthGrain, score_grains, score_tracks};
use emunet_tools::stacks::tracks::{TrackParams, find_tracks};
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

/// One simulated view of `k` planes: (frame width, per-plane cluster maps of the truth masks,
/// geometry, truth grains).
fn simulated_stack(
    preset: Preset,
    seed: u64,
    k: usize,
) -> (
    usize,
    Vec<emunet::cluster_list::ClusterMap>,
    StackGeometry,
    Vec<TruthGrain>,
) {
    let mut params = SimParams::preset(preset);
    params.width = 320;
    params.height = 256;
    let mut view = View::new(&params, seed, 0).unwrap();
    let depths = simulate::focal_planes(&params, seed, 0, k);
    let mut maps = Vec::new();
    let mut truth: BTreeMap<usize, TruthGrain> = BTreeMap::new();
    for (plane, &z) in depths.iter().enumerate() {
        let f = view.render(simulate::frame_name(0, plane, k), z);
        maps.push(frame_clusters(&f.image, &f.truth, true));
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
    }
    let geometry = StackGeometry {
        pixel_um: params.pixel_um,
        planes_um: depths,
    };
    (params.width, maps, geometry, truth.into_values().collect())
}

#[test]
fn truth_clusters_of_a_stack_link_into_the_true_grains() {
    for (preset, seed) in [(Preset::Nominal, 61), (Preset::Easy, 62)] {
        let (width, maps, geometry, truth) = simulated_stack(preset, seed, 16);
        let planes: Vec<Plane> = maps.iter().map(|m| Plane::of(m, width)).collect();
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
    assert!(
        err.contains("planes' threshold 0.05 (the stack default"),
        "{err}"
    );
    let stdout_grains = stdout.clone();
    // The frame threshold (0.6) finds fewer grains than the stack default; (0, 1) only.
    let found_of = |text: &str| -> usize {
        let at = text.find("3D grains").unwrap();
        let rest = &text[at..];
        let rest = &rest[rest.find("purity").unwrap()..];
        let rest = &rest[rest.find('/').unwrap() + 1..];
        rest[..rest.find(')').unwrap()].parse().unwrap()
    };
    let out6 = dir.path().join("g6");
    let (ok, stdout6, err) = common::emunet(&[
        "grains",
        "--threshold",
        "0.6",
        "--out",
        out6.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
        sim.join("images").to_str().unwrap(),
    ]);
    assert!(ok && err.contains("planes' threshold 0.6\n"), "{err}");
    assert!(
        found_of(&stdout6) < found_of(&stdout),
        "{stdout6}\n{stdout}"
    );
    let (ok, _, err) = common::emunet(&[
        "grains",
        "--threshold",
        "1.5",
        "--out",
        out6.to_str().unwrap(),
        sim.join("images").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("threshold 1.5"), "{err}");
    assert!(stdout.contains("v0000: 4 planes") && stdout.contains("v0001: 4 planes"));
    assert!(stdout.contains("3D grains (matched within 0.45 µm"));
    for view in ["v0000", "v0001"] {
        let csv = std::fs::read_to_string(out.join(format!("{view}.grains.csv"))).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some(emunet_tools::stacks::grains::GRAINS_HEADER)
        );
        let rows: Vec<&str> = lines.collect();
        assert!(!rows.is_empty());
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("{view}.grains.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(json.as_array().unwrap().len(), rows.len());
        assert!(rows.iter().all(|r| r.starts_with(&format!("{view},"))));
    }
    // Tracks from those grains files.
    let tracks = dir.path().join("t");
    let (ok, stdout, err) = common::emunet(&[
        "tracks",
        "--out",
        tracks.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
        out.join("v0000.grains.csv").to_str().unwrap(),
        out.join("v0001.grains.csv").to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("2 view(s)") && stdout.contains("track efficiency"));
    for view in ["v0000", "v0001"] {
        let csv = std::fs::read_to_string(tracks.join(format!("{view}.tracks.csv"))).unwrap();
        assert_eq!(
            csv.lines().next(),
            Some(emunet_tools::stacks::tracks::TRACKS_HEADER)
        );
    }
    // `eval` scores the same files the same way.
    let count_of = |text: &str, after: &str| -> String {
        let rest = &text[text
            .find(after)
            .unwrap_or_else(|| panic!("{after} in {text}"))..];
        let rest = &rest[rest.find('(').unwrap() + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '/'))
            .unwrap();
        rest[..end].to_string()
    };
    let grains_counts = count_of(
        &stdout_grains[stdout_grains.find("3D grains").unwrap()..],
        "efficiency",
    );
    let (ok, eval_out, err) = common::emunet(&[
        "eval",
        "--pred",
        out.to_str().unwrap(),
        "--grains",
        truth.to_str().unwrap(),
        "--frame-size",
        "128x96",
    ]);
    assert!(ok, "{err}");
    let eval_summary = &eval_out[eval_out.find("3D grains of 2 view(s)").unwrap()..];
    assert_eq!(
        count_of(eval_summary, "efficiency"),
        grains_counts,
        "{eval_out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("eval.json")).unwrap()).unwrap();
    assert!(json["grains_3d"]["efficiency"].as_f64().is_some());
    let (ok, eval_out, err) = common::emunet(&[
        "eval",
        "--pred",
        tracks.to_str().unwrap(),
        "--grains",
        truth.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        count_of(
            &eval_out[eval_out.find("tracks of 2").unwrap()..],
            "efficiency"
        ),
        count_of(&stdout, "track efficiency"),
        "{eval_out}"
    );
    // Without a truth, eval says what it needs.
    let (ok, _, err) = common::emunet(&["eval", "--pred", out.to_str().unwrap()]);
    assert!(!ok && err.contains("--grains"), "{err}");
    // A file that is not a grains.csv is refused by name.
    let (ok, _, err) = common::emunet(&[
        "tracks",
        "--out",
        tracks.to_str().unwrap(),
        truth.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("grains.csv") && err.contains("header"),
        "{err}"
    );
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

/// A grain at (x, y, z) µm (the other fields do not matter to the track finder).
fn grain_at(id: usize, x: f64, y: f64, z: f64) -> emunet_tools::stacks::grains::Grain {
    emunet_tools::stacks::grains::Grain {
        grain: id,
        x_px: x / 0.3,
        y_px: y / 0.3,
        x_um: x,
        y_um: y,
        z_um: z,
        best_plane: 0,
        first_plane: 0,
        planes: 1,
        area: 6,
        volume: 100.0,
        peak: 40.0,
        quality: 0,
    }
}

/// `n` fog grains uniform in a 200 × 200 × 44 µm block, found where they are.
fn push_fog(
    rng: &mut rand_chacha::ChaCha8Rng,
    n: usize,
    grains: &mut Vec<emunet_tools::stacks::grains::Grain>,
    truth: &mut Vec<TruthGrain>,
) {
    for _ in 0..n {
        let (x, y, z) = (
            rng.random_range(0.0..200.0),
            rng.random_range(0.0..200.0),
            rng.random_range(0.0..44.0),
        );
        push_grain(grains, truth, (x, y, z), z, -1);
    }
}

/// Straight tracks, one per slope (tx, ty) from `origin(k)` at depth 0, with grains at depths
/// `depth(j)` for j < `per_track`: ±0.15 µm of transverse jitter, found ±0.2 µm off in depth.
fn push_tracks(
    rng: &mut rand_chacha::ChaCha8Rng,
    slopes: &[(f64, f64)],
    origin: impl Fn(usize) -> (f64, f64),
    (per_track, depth): (usize, impl Fn(usize) -> f64),
    grains: &mut Vec<emunet_tools::stacks::grains::Grain>,
    truth: &mut Vec<TruthGrain>,
) {
    for (k, &(tx, ty)) in slopes.iter().enumerate() {
        let (x0, y0) = origin(k);
        for j in 0..per_track {
            let z = depth(j);
            let (x, y) = (
                x0 + tx * z + rng.random_range(-0.15..0.15),
                y0 + ty * z + rng.random_range(-0.15..0.15),
            );
            let found_z = z + rng.random_range(-0.2..0.2);
            push_grain(grains, truth, (x, y, z), found_z, k as i32);
        }
    }
}

/// A found grain at (x, y, `found_z`) and its truth at (x, y, z) on `track` (−1: fog).
fn push_grain(
    grains: &mut Vec<emunet_tools::stacks::grains::Grain>,
    truth: &mut Vec<TruthGrain>,
    (x, y, z): (f64, f64, f64),
    found_z: f64,
    track: i32,
) {
    let id = grains.len();
    grains.push(grain_at(id, x, y, found_z));
    truth.push(TruthGrain {
        grain: id,
        x_um: x,
        y_um: y,
        z_um: z,
        track,
        detectable: true,
    });
}

#[test]
fn track_finder_finds_straight_chains_in_dense_fog() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(64);
    // Fog at the nominal density of found grains (0.0062 per µm³) in a 200 × 200 × 44 µm block.
    let (mut grains, mut truth) = (Vec::new(), Vec::new());
    push_fog(&mut rng, 10_900, &mut grains, &mut truth);
    // Six tracks of 13 grains with 0.15 µm of transverse jitter (and 0.2 µm of depth error).
    let slopes = [
        (0.0, 0.0),
        (0.45, -0.2),
        (-0.3, 0.5),
        (0.55, 0.55),
        (-0.1, -0.4),
        (0.2, 0.05),
    ];
    push_tracks(
        &mut rng,
        &slopes,
        |k| (40.0 + 25.0 * k as f64, 60.0 + 15.0 * k as f64),
        (13, |j| 1.5 + 3.3 * j as f64),
        &mut grains,
        &mut truth,
    );
    let found = find_tracks(&grains, &TrackParams::default());
    let s = score_tracks(&found, &truth, 8);
    let (dt, dpos) = s.resolution();
    println!(
        "{} tracks found: {}/{} true ones, {} fake, slope resolution {dt:.1} mrad, position \
         {dpos:.2} µm",
        found.len(),
        s.found_findable,
        s.findable,
        s.fakes
    );
    assert_eq!(s.findable, 6);
    assert_eq!(s.found_findable, 6);
    assert_eq!(s.fakes, 0);
    assert!(dt < 10.0, "slope resolution {dt} mrad");
    for t in &found {
        assert!(t.grains.len() >= 8 && t.grains.windows(2).all(|w| w[0] < w[1]));
        // Its chance: fog's Poisson tail for its grain count in its tube, within the cut.
        let path = 44.0 * (1.0 + t.tx * t.tx + t.ty * t.ty).sqrt();
        let lambda = grains.len() as f64 / (200.0 * 200.0 * 44.0)
            * std::f64::consts::PI
            * 0.55
            * 0.55
            * path;
        let want = emunet_tools::stacks::tracks::poisson_tail(t.grains.len(), lambda);
        assert!(t.chance <= 1e-9, "chance {:e}", t.chance);
        assert!(
            (t.chance / want).ln().abs() < 0.2,
            "chance {:e}, expected about {want:e}",
            t.chance
        );
    }
}

#[test]
fn tracks_csv_reads_back() {
    use emunet_tools::stacks::tracks::{Track, read_tracks_csv, tracks_csv};
    let tracks = vec![
        Track {
            track: 0,
            x0_um: 12.5,
            y0_um: -3.25,
            z0_um: 22.0,
            tx: 0.125,
            ty: -0.5,
            chi2: 0.0625,
            chance: 2.5e-11,
            grains: vec![3, 17, 40],
        },
        Track {
            track: 1,
            x0_um: 0.0,
            y0_um: 1.0,
            z0_um: 22.0,
            tx: 0.0,
            ty: 0.25,
            chi2: 0.5,
            chance: 0.5,
            grains: vec![1],
        },
    ];
    let text = tracks_csv("v0003", &tracks);
    let (view, back) = read_tracks_csv(&text, "t.csv").unwrap();
    assert_eq!((view.as_str(), back), ("v0003", tracks));
    let err = read_tracks_csv(&text.replace("3;17;40", "3;x;40"), "t.csv").unwrap_err();
    assert!(err.to_string().contains("\"x\""), "{err}");
}

/// The chance-probability cut: `poisson_tail` equals the Poisson tail summed directly, and the
/// finder's need for grains follows the view's fog: tracks of 7 grains stand out of sparse fog
/// (a quarter of the nominal density) and are all found, without a fake, while in nominal fog
/// 7 grains in a tube happen by chance too often: there a track is accepted only where fog
/// grains in its tube bring it to 8 or more.
#[test]
fn chance_cut_follows_the_fog_density() {
    use emunet_tools::stacks::tracks::poisson_tail;
    for (n, l) in [(1usize, 0.3f64), (3, 0.5), (8, 0.26), (5, 4.0), (12, 0.05)] {
        let term =
            |k: usize| (-l).exp() * l.powi(k as i32) / (1..=k).map(|j| j as f64).product::<f64>();
        // The tail summed term by term (no cancellation), against 1 − the head where that is exact enough.
        let tail: f64 = (n..n + 60).map(term).sum();
        let got = poisson_tail(n, l);
        assert!(
            (got - tail).abs() <= 1e-12 * tail,
            "P(N ≥ {n} | {l}) {got} vs {tail}"
        );
        let head: f64 = (0..n).map(term).sum();
        assert!((got - (1.0 - head)).abs() <= 1e-15, "{n} {l}");
    }
    assert_eq!(poisson_tail(0, 0.3), 1.0);
    let view = |fog: usize, seed: u64| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let (mut grains, mut truth) = (Vec::new(), Vec::new());
        push_fog(&mut rng, fog, &mut grains, &mut truth);
        push_tracks(
            &mut rng,
            &[(0.0, 0.1), (0.3, -0.2), (-0.4, 0.35), (0.1, 0.45)],
            |k| (30.0 + 40.0 * k as f64, 50.0 + 30.0 * k as f64),
            (7, |j| 2.0 + 6.5 * j as f64),
            &mut grains,
            &mut truth,
        );
        let found = find_tracks(&grains, &TrackParams::default());
        let fewest = found.iter().map(|t| t.grains.len()).min();
        (score_tracks(&found, &truth, 7), fewest)
    };
    let (sparse, fewest) = view(2_725, 65);
    assert_eq!(
        (sparse.findable, sparse.found_findable, sparse.fakes),
        (4, 4, 0)
    );
    assert_eq!(fewest, Some(7));
    let (dense, fewest) = view(10_900, 66);
    assert_eq!((dense.findable, dense.fakes), (4, 0));
    assert!(fewest.is_none_or(|n| n >= 8), "{fewest:?}");
}
