//! The `emunet` binary end to end: init, segment (files and folders, bad frames, exit status),
//! info.

use crate::common::emunet;
use std::path::Path;

fn frame(path: &Path, w: u32, h: u32) {
    image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([if (x / 3 + y / 3) % 5 == 0 { 60 } else { 210 }])
    })
    .save(path)
    .unwrap();
}

#[test]
fn init_then_segment_files_and_folders() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let weights = d.join("w.safetensors");
    let (ok, so, _) = emunet(&[
        "init",
        "--depth",
        "2",
        "--channels",
        "4",
        "--out",
        weights.to_str().unwrap(),
    ]);
    assert!(ok && so.contains("UNet(2, 4)"));

    let frames = d.join("frames");
    std::fs::create_dir(&frames).unwrap();
    frame(&frames.join("a.png"), 37, 29);
    frame(&frames.join("b.tif"), 16, 20);
    let out = d.join("out");
    let (ok, so, _) = emunet(&[
        "segment",
        "--weights",
        weights.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        frames.to_str().unwrap(),
    ]);
    assert!(ok, "segment failed");
    assert!(so.contains("2 frame(s) segmented, 0 failed"));
    // Frames overlap in the pipeline: the summary also gives the throughput.
    assert!(so.contains("s in all") && so.contains("frames/s"), "{so}");
    let (prob, rows, cols) = emunet::npy::read(&out.join("a.prob.npy")).unwrap();
    assert_eq!((rows, cols), (29, 37));
    let mask = image::open(out.join("a.mask.png")).unwrap().to_luma8();
    assert_eq!(mask.dimensions(), (37, 29));
    for (p, m) in prob.iter().zip(mask.pixels()) {
        assert_eq!(m.0[0], if *p >= 0.5 { 255 } else { 0 });
    }
    assert!(out.join("b.mask.png").exists() && out.join("b.prob.npy").exists());
}

/// `segment --pixel-um`: frames of another pixel size come out on their own grid (mask,
/// probabilities), the first lines say they were resampled; the model's own size resamples
/// nothing.
#[test]
fn segment_takes_the_frames_pixel_size() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let frames = d.join("frames");
    std::fs::create_dir(&frames).unwrap();
    frame(&frames.join("a.png"), 61, 45);
    for um in ["0.2", "0.42", "0.3"] {
        let out = d.join(format!("out-{um}"));
        let (ok, so, se) = emunet(&[
            "segment",
            "--pixel-um",
            um,
            "--out",
            out.to_str().unwrap(),
            frames.to_str().unwrap(),
        ]);
        assert!(ok, "{um}: {se}");
        assert!(so.contains("1 frame(s) segmented, 0 failed"), "{so}");
        assert_eq!(se.contains("resampled"), um != "0.3", "{um}: {se}");
        let (prob, rows, cols) = emunet::npy::read(&out.join("a.prob.npy")).unwrap();
        assert_eq!((rows, cols), (45, 61), "{um}");
        assert!(prob.iter().all(|p| (0.0..=1.0).contains(p)), "{um}");
        let mask = image::open(out.join("a.mask.png")).unwrap().to_luma8();
        assert_eq!(mask.dimensions(), (61, 45), "{um}");
    }
}

/// A dead first row is cleared from the mask whatever `--border` is; `--border B` clears B
/// pixels along every edge.
#[test]
fn segment_clears_dark_edges_and_the_border() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let frames = d.join("frames");
    std::fs::create_dir(&frames).unwrap();
    let path = frames.join("a.png");
    frame(&path, 64, 48);
    let mut img = image::open(&path).unwrap().to_luma8();
    for x in 0..64 {
        img.put_pixel(x, 0, image::Luma([0]));
    }
    img.save(&path).unwrap();
    for border in [0u32, 3] {
        let out = d.join(format!("out-{border}"));
        let b = border.to_string();
        let (ok, _, se) = emunet(&[
            "segment",
            "--border",
            &b,
            "--out",
            out.to_str().unwrap(),
            frames.to_str().unwrap(),
        ]);
        assert!(ok, "{se}");
        let mask = image::open(out.join("a.mask.png")).unwrap().to_luma8();
        let on = |x: u32, y: u32| mask.get_pixel(x, y).0[0] != 0;
        assert!(
            (0..64).all(|x| !on(x, 0)),
            "border {border}: the dead row is cleared"
        );
        let edge = border.max(1);
        for (x, y) in (0..64).flat_map(|x| (0..48).map(move |y| (x, y))) {
            let near = x < border || y < edge || x + border >= 64 || y + border >= 48;
            if near {
                assert!(!on(x, y), "border {border}: ({x}, {y})");
            }
        }
        assert!(
            mask.pixels().any(|p| p.0[0] != 0),
            "border {border}: the inside is kept"
        );
    }
}

#[test]
fn bad_frame_fails_but_others_are_processed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let weights = d.join("w.safetensors");
    assert!(
        emunet(&[
            "init",
            "--depth",
            "3",
            "--channels",
            "2",
            "--out",
            weights.to_str().unwrap()
        ])
        .0
    );
    frame(&d.join("good.png"), 20, 20);
    frame(&d.join("small.png"), 5, 20); // smaller than 2^3
    std::fs::write(d.join("broken.png"), b"\x89PNG\r\n\x1a\nbroken").unwrap();
    let out = d.join("out");
    let args = [
        "segment",
        "--weights",
        weights.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threshold",
        "0.25",
    ];
    let files = [
        d.join("broken.png"),
        d.join("small.png"),
        d.join("good.png"),
    ];
    let mut all: Vec<&str> = args.to_vec();
    all.extend(files.iter().map(|p| p.to_str().unwrap()));
    let (ok, so, se) = emunet(&all);
    assert!(!ok, "exit status must be non-zero when a frame failed");
    assert!(so.contains("1 frame(s) segmented, 2 failed"), "{so}");
    assert!(
        se.contains("broken.png") && se.contains("small.png") && se.contains("smaller than 2^D"),
        "{se}"
    );
    assert!(out.join("good.mask.png").exists());
    let (prob, ..) = emunet::npy::read(&out.join("good.prob.npy")).unwrap();
    let mask = image::open(out.join("good.mask.png")).unwrap().to_luma8();
    for (p, m) in prob.iter().zip(mask.pixels()) {
        assert_eq!(m.0[0], if *p >= 0.25 { 255 } else { 0 });
    }
}

#[test]
fn bad_weights_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.safetensors");
    std::fs::write(&w, b"nonsense").unwrap();
    frame(&dir.path().join("a.png"), 16, 16);
    let (ok, _, se) = emunet(&[
        "segment",
        "--weights",
        w.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
        dir.path().join("a.png").to_str().unwrap(),
    ]);
    assert!(!ok && se.contains("not a safetensors file"), "{se}");
}

#[test]
fn info_names_the_adapter() {
    let (ok, so, _) = emunet(&["info"]);
    assert!(
        ok && so.contains("adapter:") && so.contains("max storage binding"),
        "{so}"
    );
}

#[test]
fn simulate_classic_eval_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = d.join("sim");
    let (ok, so, _) = emunet(&[
        "simulate",
        "--out",
        sim.to_str().unwrap(),
        "--count",
        "2",
        "--seed",
        "5",
        "--width",
        "160",
        "--height",
        "128",
    ]);
    assert!(ok && so.contains("wrote 2 160×128 frame(s)"), "{so}");
    for sub in ["images", "masks", "masks_classic"] {
        assert!(sim.join(sub).join("f00001.png").exists(), "{sub}");
    }
    let grains = std::fs::read_to_string(sim.join("grains.csv")).unwrap();
    assert!(
        grains.starts_with("frame,grain,x_px,y_px,x_um,y_um,z_um,dz_um,in_focus,track,truth_px\n")
    );
    // Two views at K = 3: six frames named by view and plane.
    let stack = d.join("stack");
    assert!(
        emunet(&[
            "simulate",
            "--out",
            stack.to_str().unwrap(),
            "--count",
            "2",
            "--frames-per-view",
            "3",
            "--width",
            "64",
            "--height",
            "64"
        ])
        .0
    );
    assert!(stack.join("images").join("v0001_z02.png").exists());

    let out = d.join("classic");
    let (ok, so, _) = emunet(&[
        "classic",
        "--out",
        out.to_str().unwrap(),
        "--json",
        sim.join("images").to_str().unwrap(),
    ]);
    assert!(ok && so.contains("2 frame(s) processed, 0 failed"), "{so}");
    let csv = std::fs::read_to_string(out.join("f00000.clusters.csv")).unwrap();
    assert!(csv.starts_with(emunet::clusters::CSV_HEADER));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("f00000.clusters.json")).unwrap())
            .unwrap();
    assert_eq!(json.as_array().unwrap().len(), csv.lines().count() - 1);

    let report = d.join("eval.json");
    let (ok, so, _) = emunet(&[
        "eval",
        "--pred",
        out.to_str().unwrap(),
        "--truth",
        sim.join("masks").to_str().unwrap(),
        "--grains",
        sim.join("grains.csv").to_str().unwrap(),
        "--json",
        report.to_str().unwrap(),
    ]);
    assert!(
        ok && so.contains("ALL (2 frames)") && so.contains("positions from clusters.csv (cog)"),
        "{so}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let eff = r["objects"]["matched"].as_f64().unwrap() / r["objects"]["grains"].as_f64().unwrap();
    assert!(
        eff > 0.5,
        "the classical pipeline finds most grains of a nominal frame: {eff}"
    );
    // The truth mask scored against itself: perfect pixels.
    let (ok, so, _) = emunet(&[
        "eval",
        "--pred",
        sim.join("masks").to_str().unwrap(),
        "--truth",
        sim.join("masks").to_str().unwrap(),
        "--json",
        d.join("self.json").to_str().unwrap(),
    ]);
    assert!(
        ok && so.contains("ALL (2 frames)            1.0000  1.0000  1.0000  1.0000"),
        "{so}"
    );
}

#[test]
fn classic_on_cpu_matches_gpu_output_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = d.join("sim");
    assert!(
        emunet(&[
            "simulate",
            "--out",
            sim.to_str().unwrap(),
            "--count",
            "1",
            "--seed",
            "9",
            "--width",
            "200",
            "--height",
            "150"
        ])
        .0
    );
    let (gpu, cpu) = (d.join("gpu"), d.join("cpu"));
    assert!(
        emunet(&[
            "classic",
            "--out",
            gpu.to_str().unwrap(),
            sim.join("images").to_str().unwrap()
        ])
        .0
    );
    assert!(
        emunet(&[
            "classic",
            "--cpu",
            "--out",
            cpu.to_str().unwrap(),
            sim.join("images").to_str().unwrap()
        ])
        .0
    );
    let read = |p: &Path| std::fs::read_to_string(p.join("f00000.clusters.csv")).unwrap();
    assert_eq!(read(&gpu).lines().count(), read(&cpu).lines().count());
    assert_eq!(
        std::fs::read(gpu.join("f00000.mask.png")).unwrap(),
        std::fs::read(cpu.join("f00000.mask.png")).unwrap()
    );
}

#[test]
fn bench_reports_every_engine_and_refuses_bad_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let (ok, so, se) = emunet(&[
        "bench",
        "--size",
        "96x64",
        "--frames",
        "1",
        "--batch",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "{so}\n{se}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let runs = report["runs"].as_array().unwrap();
    let names: Vec<String> = runs
        .iter()
        .map(|r| format!("{} {}", r["engine"], r["precision"]))
        .collect();
    assert_eq!(
        names,
        ["\"ops\" \"f32\"", "\"fused\" \"f32\"", "\"fused\" \"f16\""]
    );
    for r in runs {
        assert!(r["skipped"].is_null(), "{r}");
        assert!(r["steady_ms_mean"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["batch_ms_per_frame"].as_f64().unwrap() > 0.0, "{r}");
        let kernels = r["kernels"].as_array().unwrap();
        assert!(
            kernels
                .iter()
                .any(|k| k["label"].as_str().unwrap().contains("conv2"))
        );
        assert!(
            kernels.iter().all(|k| k["ms"].as_f64().unwrap() > 0.0),
            "{r}"
        );
    }
    assert!(so.contains("frames/s") && so.contains("GFLOP/s"), "{so}");
    let (ok, _, se) = emunet(&["bench", "--size", "96by64"]);
    assert!(!ok && se.contains("WIDTHxHEIGHT"), "{se}");
}

/// Structured options are parsed by clap: a bad value is refused before any work, with clap's
/// message naming the option and exit status 2, and nothing is written.
#[test]
fn bad_option_values_get_claps_message_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["segment", "--out", out, "--shard", "3/3", "x.png"],
            "--shard",
        ),
        (
            &["segment", "--out", out, "--shard", "a/b", "x.png"],
            "--shard",
        ),
        (
            &["segment", "--out", out, "--engine", "gpu", "x.png"],
            "--engine",
        ),
        (
            &["segment", "--out", out, "--prob-format", "u16", "x.png"],
            "--prob-format",
        ),
        (&["bench", "--size", "96by64"], "--size"),
        (&["bench", "--batch", "0"], "--batch"),
        (
            &["eval", "--pred", out, "--frame-size", "1280"],
            "--frame-size",
        ),
        (&["simulate", "--out", out, "--count", "0"], "--count"),
        (
            &["simulate", "--out", out, "--preset", "medium"],
            "--preset",
        ),
        (
            &["grains", "--out", out, "--step-um", "0", "s"],
            "--step-um",
        ),
        (
            &["tracks", "--out", out, "--min-grains", "2", "g.csv"],
            "--min-grains",
        ),
        (
            &["tracks", "--out", out, "--max-chance", "0", "g.csv"],
            "--max-chance",
        ),
        (
            &["segment", "--out", out, "--pixel-um", "0", "x.png"],
            "--pixel-um",
        ),
        (&["simulate", "--out", out, "--pixel-um=-0.3"], "--pixel-um"),
        (
            &["simulate", "--out", out, "--filter", "sharpen:3"],
            "--filter",
        ),
        (
            &["classic", "--out", out, "--kernel", "sobel", "x.png"],
            "--kernel",
        ),
        (
            &["init", "--out", out, "--normalization", "minmax"],
            "--normalization",
        ),
    ];
    for (args, option) in cases {
        let run = std::process::Command::new(crate::common::emunet_exe())
            .args(*args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("invalid value") && err.contains(option),
            "{args:?}: {err}"
        );
    }
    assert!(
        !dir.path().join("out").exists(),
        "a refused command wrote {out}"
    );
}
