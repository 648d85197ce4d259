//! A full disk: `train` and `segment` writing to a small tmpfs that fills up end with a clear
//! one-line error, no half-written file ever replaces a good one, and once space is freed the
//! run resumes to exactly what an undisturbed run gives.
//!
//! The tmpfs lives in a private mount namespace (`unshare -rm`: root, or any user where user
//! namespaces are allowed), so the test needs no privileges and leaves no mount behind.

use crate::common::files_under as tree;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Runs `script` with bash in a private mount namespace; returns its stdout (the steps' exit
/// codes as `name=code` lines).
fn in_namespace(script: &str) -> BTreeMap<String, i32> {
    let out = Command::new("unshare")
        .args(["-rm", "bash", "-c", script])
        .output()
        .expect("the full-disk test needs util-linux's `unshare`");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "could not mount a tmpfs in a private namespace (unshare -rm): {stderr}"
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim().parse().unwrap()))
        .collect()
}

fn log(dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    println!("--- {name}\n{text}");
    assert!(!text.contains("panicked"), "{name}: {text}");
    text
}

const TRAIN: &str = "train --simulate --depth 1 --channels 4 --steps 6 --batch 2 --crop 32 \
                     --val-frames 1 --seed 5 --resume";

#[test]
fn train_on_a_full_disk_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let exe = env!("CARGO_BIN_EXE_emunet");
    // Undisturbed: one epoch, then resumed to two.
    let reference = dir.path().join("reference");
    for epochs in [1, 2] {
        let status = Command::new(exe)
            .args(TRAIN.split_whitespace())
            .args(["--out", reference.to_str().unwrap()])
            .args(["--epochs", &epochs.to_string()])
            .output()
            .unwrap();
        assert!(status.status.success());
    }
    // On a 4 MiB tmpfs: one epoch; the disk filled; the second epoch fails to save; space freed;
    // the second epoch again.
    let script = format!(
        r#"set -u
mkdir -p {d}/disk && mount -t tmpfs -o size=4m tmpfs {d}/disk
run() {{ {exe} {TRAIN} --out {d}/disk/run --epochs "$@"; }}
run 1 >{d}/first.log 2>&1; echo first=$?
cp -a {d}/disk/run {d}/good
dd if=/dev/zero of={d}/disk/filler bs=4k 2>/dev/null; echo filled=0
run 2 >{d}/second.log 2>&1; echo second=$?
cp -a {d}/disk/run {d}/after
rm {d}/disk/filler
run 2 >{d}/third.log 2>&1; echo third=$?
cp -a {d}/disk/run {d}/final
"#
    );
    let codes = in_namespace(&script);
    assert_eq!(codes["first"], 0, "{}", log(dir.path(), "first.log"));
    assert_eq!(codes["second"], 1);
    let second = log(dir.path(), "second.log");
    let error: Vec<&str> = second.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error.len(), 1, "{second}");
    assert!(error[0].contains("No space left on device"), "{}", error[0]);
    // Nothing the failed save touched: the checkpoint is the good one, byte for byte, and no
    // temporary file is left.
    let (good, after) = (
        tree(&dir.path().join("good")),
        tree(&dir.path().join("after")),
    );
    assert_eq!(
        good.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &good {
        assert!(after[name] == *bytes, "{name} changed on the full disk");
    }
    // Resumed once space is back: the same files as the undisturbed run (but for the seconds
    // column of the log and the curves drawn from it).
    assert_eq!(codes["third"], 0, "{}", log(dir.path(), "third.log"));
    let (want, got) = (tree(&reference), tree(&dir.path().join("final")));
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for name in ["best.safetensors", "last.safetensors"] {
        let (a, b) = (
            emunet::Model::from_bytes(&want[name]).unwrap(),
            emunet::Model::from_bytes(&got[name]).unwrap(),
        );
        assert_eq!(a.metadata, b.metadata, "{name}");
        assert!(a.tensors == b.tensors, "{name}: weights differ");
        assert!(
            want[name] == got[name],
            "{name} differs from the undisturbed run"
        );
    }
}

#[test]
fn segment_on_a_full_disk_stops_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let exe = env!("CARGO_BIN_EXE_emunet");
    let frames = dir.path().join("frames");
    let status = Command::new(exe)
        .args([
            "simulate", "--count", "6", "--width", "160", "--height", "128",
        ])
        .args(["--out", frames.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(status.status.success());
    let reference = dir.path().join("reference");
    let status = Command::new(exe)
        .args(["segment", "--out", reference.to_str().unwrap()])
        .arg(frames.join("images"))
        .output()
        .unwrap();
    assert!(status.status.success());
    // A 1 MiB tmpfs, filled before the run: every write fails, the run stops at the first.
    let script = format!(
        r#"set -u
mkdir -p {d}/disk && mount -t tmpfs -o size=1m tmpfs {d}/disk && mkdir {d}/disk/out
dd if=/dev/zero of={d}/disk/filler bs=4k 2>/dev/null
seg() {{ {exe} segment --skip-existing --out {d}/disk/out {d}/frames/images; }}
seg >{d}/full.log 2>&1; echo full=$?
ls -A {d}/disk/out | wc -l | sed 's/^/left=/'
rm {d}/disk/filler
seg >{d}/freed.log 2>&1; echo freed=$?
cp -a {d}/disk/out {d}/final
"#
    );
    let codes = in_namespace(&script);
    let full = log(dir.path(), "full.log");
    assert_eq!(codes["full"], 3, "a full disk stops the run with status 3");
    assert!(
        full.contains("stopped: ") && full.contains("No space left on device"),
        "{full}"
    );
    assert!(full.contains("0 of 6 frame(s) were done"), "{full}");
    assert!(
        full.matches("No space left").count() <= 5,
        "it stops rather than failing every frame: {full}"
    );
    assert_eq!(codes["left"], 0, "no partial or temporary file is left");
    assert_eq!(codes["freed"], 0, "{}", log(dir.path(), "freed.log"));
    assert_eq!(tree(&reference), tree(&dir.path().join("final")));
}
