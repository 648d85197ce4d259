//! `segment` on a folder killed with SIGKILL at random moments, then re-run with
//! `--skip-existing` until it finishes: every frame ends with exactly one complete set of
//! outputs, byte for byte those of an uninterrupted run, and no temporary file is left.

mod common;
use common::{emunet, files_under as contents};
use rand::{RngExt, SeedableRng};
use std::path::Path;
use std::time::Duration;

#[test]
fn segment_killed_at_random_then_resumed_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    for i in 0..16u32 {
        image::GrayImage::from_fn(96, 64, |x, y| {
            image::Luma([if (x / 3 + y / 3 + i) % 5 == 0 {
                60
            } else {
                210
            }])
        })
        .save(frames.join(format!("f{i:02}.png")))
        .unwrap();
    }
    let weights = dir.path().join("w.safetensors");
    let w = weights.to_str().unwrap();
    assert!(emunet(&["init", "--depth", "2", "--channels", "4", "--out", w]).0);
    let args = |out: &Path| {
        vec![
            "segment".to_string(),
            "--weights".into(),
            w.into(),
            "--threshold".into(),
            "0.4".into(),
            "--json".into(),
            "--skip-existing".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
            frames.to_str().unwrap().into(),
        ]
    };
    let reference = dir.path().join("reference");
    let a = args(&reference);
    let start = std::time::Instant::now();
    assert!(emunet(&a.iter().map(String::as_str).collect::<Vec<_>>()).0);
    let whole = start.elapsed().as_secs_f64();
    let expected = contents(&reference);
    assert_eq!(expected.len(), 16 * 4);

    let out = dir.path().join("killed");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let (mut kills, mut runs, mut finished) = (0, 0, 0);
    // Kill runs at random moments of what a whole run takes, re-running with --skip-existing,
    // until one finishes; check it, and start over until 6 kills have landed mid-run.
    while kills < 6 {
        runs += 1;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_emunet"))
            .args(args(&out))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs_f64(whole * rng.random_range(0.1..0.8)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
            // What a killed run leaves must be whole files only (temporaries aside).
            for (name, bytes) in contents(&out) {
                if !name.starts_with(".tmp") {
                    assert_eq!(
                        Some(&bytes),
                        expected.get(&name),
                        "{name} after kill {kills}"
                    );
                }
            }
            continue;
        }
        assert!(child.wait().unwrap().success(), "run {runs} failed");
        // Exactly the uninterrupted run's files, byte for byte; no temporary file left.
        let got = contents(&out);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        assert!(got == expected, "outputs differ from the uninterrupted run");
        finished += 1;
        std::fs::remove_dir_all(&out).unwrap();
    }
    // The last killed run's work finished by one more resumed run.
    assert!(emunet(&args(&out).iter().map(String::as_str).collect::<Vec<_>>()).0);
    assert!(
        contents(&out) == expected,
        "outputs differ from the uninterrupted run"
    );
    println!(
        "{kills} kills in {runs} runs ({finished} finished before), outputs complete and equal"
    );
}
