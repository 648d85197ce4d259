//! `segment` on a folder killed with SIGKILL at random moments, then re-run with
//! `--skip-existing` until it finishes: every frame ends with exactly one complete set of
//! outputs, byte for byte those of an uninterrupted run, and no temporary file is left.

use crate::common::{emunet, files_under as contents};
use emunet::Model;
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

/// `emunet train --resume` after SIGKILLs at random moments ends with the same bytes as an
/// uninterrupted run.
#[test]
fn killed_ten_times_at_random_then_resumed_ends_bit_identical() {
    use rand::{RngExt, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &std::path::Path| {
        [
            "train",
            "--simulate",
            "--out",
            out.to_str().unwrap(),
            "--depth",
            "1",
            "--channels",
            "4",
            "--epochs",
            "4",
            "--steps",
            "6",
            "--batch",
            "2",
            "--crop",
            "32",
            "--val-frames",
            "1",
            "--seed",
            "5",
            "--resume", // afresh when there is nothing to resume
        ]
        .map(String::from)
    };
    let run = |out: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_emunet"))
            .args(args(out))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let whole_run = dir.path().join("whole");
    let start = std::time::Instant::now();
    assert!(run(&whole_run).wait().unwrap().success());
    let whole = start.elapsed().as_secs_f64();

    let out = dir.path().join("killed");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let mut kills = 0;
    while kills < 10 {
        let mut child = run(&out);
        std::thread::sleep(std::time::Duration::from_secs_f64(
            whole * rng.random_range(0.05..0.7),
        ));
        if child.try_wait().unwrap().is_some() {
            // It finished first: start over, so every kill lands in a run.
            std::fs::remove_dir_all(&out).unwrap();
            continue;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        // Whatever was saved is whole (the state is checked by the resume itself).
        if out.join("last.safetensors").exists() {
            Model::load(&out.join("last.safetensors")).unwrap();
        }
    }
    assert!(run(&out).wait().unwrap().success());
    // The same weights, bit for bit, and the same log but for the seconds column.
    for name in ["last.safetensors", "best.safetensors"] {
        let (a, b) = (
            Model::load(&whole_run.join(name)).unwrap(),
            Model::load(&out.join(name)).unwrap(),
        );
        let bits = |m: &Model| -> Vec<u32> {
            m.tensors
                .values()
                .flat_map(|(_, v)| v.iter().map(|x| x.to_bits()))
                .collect()
        };
        assert_eq!(
            bits(&a),
            bits(&b),
            "{name} differs from the uninterrupted run"
        );
    }
    let log = |dir: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(dir.join("log.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect()
    };
    assert_eq!(log(&out), log(&whole_run));
    assert_eq!(log(&out).len(), 5);
    // No temporary files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
