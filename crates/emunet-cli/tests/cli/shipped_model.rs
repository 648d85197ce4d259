//! The shipped model (crates/emunet/weights/default.safetensors, built into the binary) end to end through the
//! CLI, as a physicist uses it: `segment` without `--weights` on fresh simulated frames (seeds
//! never used in training or validation), with clusters split at separate grains, an overlay and
//! a flat-field; scored by `emunet eval` against a stated bar per preset.

use crate::common;
use crate::common::emunet;
use std::path::Path;

/// (pixel Jaccard, grain efficiency, purity, position RMS) of `pred` against the truth of `sim`.
fn scores(pred: &Path, sim: &Path) -> (f64, f64, f64, f64) {
    let report = pred.join("eval.json");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (ok, _, _) = emunet(&[
        "eval",
        "--pred",
        &s(pred),
        "--truth",
        &s(&sim.join("masks")),
        "--grains",
        &s(&sim.join("grains.csv")),
        "--json",
        &s(&report),
    ]);
    assert!(ok);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let o = &r["objects"];
    let n = |k: &str| o[k].as_f64().unwrap();
    (
        r["jaccard"].as_f64().unwrap(),
        n("matched") / n("grains"),
        n("matched") / n("clusters"),
        (n("sum_d2") / n("matched")).sqrt(),
    )
}

#[test]
fn shipped_model_beats_the_stated_bar_on_fresh_frames() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    // preset, seed, and the bar: efficiency, purity, Jaccard at least; RMS at most. Measured
    // with the shipped model and blends split (2 frames of 320×256 each, lavapipe): easy 0.951 /
    // 0.957 / 0.865 / 0.122 px, nominal 0.964 / 0.975 / 0.851 / 0.155, hard 0.864 / 0.984 /
    // 0.725 / 0.227 (before blends: 0.944 / 0.956 / 0.865 / 0.150, 0.940 / 0.974 / 0.851 / 0.197,
    // 0.855 / 0.984 / 0.725 / 0.238); the bar sits 1–4 % below (a few hundred grains per preset)
    // and an untrained model, or the nominal-only pilot (easy purity 0.929), fails it. The
    // README has the 20-frame scores.
    for (preset, seed, bar) in [
        ("easy", "61001", (0.92, 0.935, 0.83, 0.20)),
        ("nominal", "61002", (0.92, 0.95, 0.82, 0.24)),
        ("hard", "61003", (0.83, 0.96, 0.69, 0.28)),
    ] {
        let sim = d.join(preset);
        let (ok, _, _) = emunet(&[
            "simulate",
            "--out",
            &s(&sim),
            "--count",
            "2",
            "--seed",
            seed,
            "--preset",
            preset,
            "--width",
            "320",
            "--height",
            "256",
        ]);
        assert!(ok);
        let out = d.join(format!("{preset}_out"));
        let (ok, so, se) = emunet(&[
            "segment",
            "--overlay",
            "--out",
            &s(&out),
            &s(&sim.join("images")),
        ]);
        assert!(ok && so.contains("2 frame(s) segmented, 0 failed"), "{so}");
        assert!(se.contains("shipped model"), "{se}");
        assert!(out.join("f00000.overlay.png").exists());
        let (j, eff, pur, rms) = scores(&out, &sim);
        println!("{preset}: Jaccard {j:.3}, efficiency {eff:.3}, purity {pur:.3}, RMS {rms:.3} px");
        assert!(
            eff >= bar.0 && pur >= bar.1 && j >= bar.2 && rms <= bar.3,
            "{preset}: ({j:.3}, {eff:.3}, {pur:.3}, {rms:.3}) misses the bar {bar:?}"
        );
    }
}

#[test]
fn flatfield_then_segment_without_splitting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let sim = d.join("sim");
    assert!(
        emunet(&[
            "simulate",
            "--out",
            &s(&sim),
            "--count",
            "4",
            "--seed",
            "62001",
            "--width",
            "160",
            "--height",
            "128",
        ])
        .0
    );
    let flat = d.join("flat.safetensors");
    let (ok, so, _) = emunet(&["flatfield", "--out", &s(&flat), &s(&sim.join("images"))]);
    assert!(
        ok && so.contains("flat-field of 4 160×128 frame(s)"),
        "{so}"
    );
    let (ok, so, _) = emunet(&[
        "flatfield",
        "--out",
        &s(&d.join("x")),
        &s(&sim.join("images/f00000.png")),
    ]);
    assert!(!ok && !d.join("x").exists(), "one frame is too few: {so}");
    let out = d.join("out");
    let (ok, so, _) = emunet(&[
        "segment",
        "--no-split",
        "--flatfield",
        &s(&flat),
        "--out",
        &s(&out),
        &s(&sim.join("images")),
    ]);
    assert!(ok && so.contains("4 frame(s) segmented, 0 failed"), "{so}");
    assert!(!so.contains("pieces of split clusters"));
    let (ok, so, _) = emunet(&[
        "classic",
        "--flatfield",
        &s(&flat),
        "--out",
        &s(&d.join("classic")),
        &s(&sim.join("images")),
    ]);
    assert!(ok && so.contains("4 frame(s) processed, 0 failed"), "{so}");
    // A frame of another size than the flat-field's is refused, named, and nothing is written.
    let (ok, so, se) = emunet(&[
        "segment",
        "--flatfield",
        &s(&flat),
        "--out",
        &s(&d.join("wrong")),
        &s(&common::repo("tests/data/sample_frame.png")),
    ]);
    assert!(!ok && (so + &se).contains("flat-field is for 160×128 frames"));
    assert!(!d.join("wrong/sample_frame.clusters.csv").exists());
    // Training on folder data through the same flat-field.
    let (ok, so, se) = emunet(&[
        "train",
        "--data",
        &s(&sim),
        "--flatfield",
        &s(&flat),
        "--out",
        &s(&d.join("run")),
        "--depth",
        "1",
        "--channels",
        "2",
        "--epochs",
        "1",
        "--steps",
        "2",
        "--batch",
        "2",
        "--crop",
        "32",
    ]);
    assert!(ok && d.join("run/best.safetensors").exists(), "{so}{se}");
    // A flat-field of another frame size is refused per frame, with the reason.
    let small = d.join("small.png");
    image::GrayImage::from_pixel(64, 64, image::Luma([200]))
        .save(&small)
        .unwrap();
    let (ok, _, se) = emunet(&[
        "segment",
        "--flatfield",
        &s(&flat),
        "--out",
        &s(&out),
        &s(&small),
    ]);
    assert!(
        !ok && se.contains("flat-field is for 160×128 frames"),
        "{se}"
    );
}
