//! Long runs: thousands of frames through `segment` on a folder and through the library's batch
//! and streaming API, checking that resident memory and the GPU's live buffers stay flat after
//! warm-up, that no frame is lost or duplicated (every output equals its source frame's
//! reference, byte for byte) and that the time per frame does not drift.
//!
//! Not part of a plain `cargo test` (ignored: minutes). The documented run:
//!
//! ```text
//! EMUNET_SOAK_FRAMES=5000 cargo test --release --test robustness -- --ignored soak:: --nocapture \
//!   --test-threads 1
//! ```
//!
//! `.ci/run` runs it with 200 frames. The frames are a pool of 40 simulated 160×128 frames
//! (`--preset mixed`: every frame its own station) repeated under distinct names.

use crate::common;
use emunet::{Context, Frame, Model, Unet};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const POOL: usize = 40;

/// Bar of issue 12: resident memory grows by less than this per 1,000 frames after warm-up.
const RSS_SLOPE_LIMIT_MB_PER_1000: f64 = 1.0;

/// Resident memory moves in steps of a few hundred kB whatever the program does (the allocator
/// grows and trims its arenas): a CI run at 109bdfc saw 174.3 → 174.6 MB over 150 frames, a
/// slope of 1.02 MB per 1000. So a short run allows this much growth over its whole window; a leak
/// of even one 160×128 probability map a frame (80 kB, 80 MB per 1000 frames) is far above both.
const RSS_STEP_MB: f64 = 0.5;

/// The slope limit (MB per 1000 frames) over a window of `frames` frames after warm-up: the bar,
/// or one allocator step over the window where that is larger.
fn rss_slope_limit(frames: usize) -> f64 {
    RSS_SLOPE_LIMIT_MB_PER_1000.max(RSS_STEP_MB * 1000.0 / frames.max(1) as f64)
}

fn frames_wanted() -> usize {
    std::env::var("EMUNET_SOAK_FRAMES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

/// Least-squares slope of y over x.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Resident memory of a process in MB (10^6 bytes), from /proc.
fn rss_mb(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024.0 / 1e6)
}

/// Frames after which the run is taken to be warm: planning, pipeline compilation and the
/// allocator's first growth are over.
fn warm_up(n: usize) -> usize {
    (n / 10).max(50).min(n / 2)
}

/// Per-frame times: (mean of the first tenth after warm-up, mean of the last tenth, ratio).
fn drift(times_ms: &[f64], warm: usize) -> (f64, f64, f64) {
    let steady = &times_ms[warm.min(times_ms.len())..];
    let k = (steady.len() / 10).max(1);
    let (first, last) = (mean(&steady[..k]), mean(&steady[steady.len() - k..]));
    (first, last, last / first)
}

/// The pool: 40 simulated frames, written once per test run.
fn pool(dir: &Path) -> Vec<PathBuf> {
    let (ok, _, err) = common::emunet(&[
        "simulate",
        "--out",
        dir.to_str().unwrap(),
        "--count",
        &POOL.to_string(),
        "--seed",
        "424242",
        "--preset",
        "mixed",
        "--width",
        "160",
        "--height",
        "128",
    ]);
    assert!(ok, "{err}");
    let mut images: Vec<PathBuf> = std::fs::read_dir(dir.join("images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    images.sort();
    assert_eq!(images.len(), POOL);
    images
}

#[test]
#[ignore = "minutes; run with --ignored (EMUNET_SOAK_FRAMES sets the length)"]
fn soak_segment_on_a_folder() {
    let n = frames_wanted();
    let dir = tempfile::tempdir().unwrap();
    let images = pool(&dir.path().join("pool"));
    // The reference: each pool frame segmented once.
    let reference = dir.path().join("reference");
    let pool_dir = images[0].parent().unwrap();
    let (ok, _, err) = common::emunet(&[
        "segment",
        "--out",
        reference.to_str().unwrap(),
        pool_dir.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    // N distinct names, each a hard link to a pool frame.
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    for i in 0..n {
        std::fs::hard_link(&images[i % POOL], frames.join(format!("s{i:05}.png"))).unwrap();
    }
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_emunet"))
        .args(["segment", "--out", out.to_str().unwrap()])
        .arg(&frames)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let done = Arc::new(AtomicUsize::new(0));
    // Each frame's line: "<path>: 160×128 8-bit, 61.2 ms (Fused engine), …".
    let reader = {
        let done = done.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let line = line.unwrap();
                if line.contains(" ms (") {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                lines.push(line);
            }
            lines
        })
    };
    let start = Instant::now();
    let mut samples = Vec::new();
    while child.try_wait().unwrap().is_none() {
        if let Some(mb) = rss_mb(&pid) {
            samples.push((done.load(Ordering::Relaxed) as f64, mb));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let seconds = start.elapsed().as_secs_f64();
    let status = child.wait().unwrap();
    let lines = reader.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");

    // Every frame reported once, in order.
    let reported: Vec<String> = lines
        .iter()
        .filter(|l| l.contains(" ms ("))
        .map(|l| l.split(": ").next().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..n)
        .map(|i| frames.join(format!("s{i:05}.png")).display().to_string())
        .collect();
    assert_eq!(reported, expected, "frames lost, duplicated or reordered");
    // Exactly three files a frame, each equal to its pool frame's reference.
    let written: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(written.len(), 3 * n, "stray or missing files");
    let mut refs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for i in 0..n {
        let pool_stem = images[i % POOL].file_stem().unwrap().to_string_lossy();
        for ext in ["mask.png", "prob.npy", "clusters.csv"] {
            let want = refs.entry(format!("{pool_stem}.{ext}")).or_insert_with(|| {
                std::fs::read(reference.join(format!("{pool_stem}.{ext}"))).unwrap()
            });
            let got = std::fs::read(out.join(format!("s{i:05}.{ext}"))).unwrap();
            assert!(got == *want, "s{i:05}.{ext} differs from {pool_stem}.{ext}");
        }
    }

    let times: Vec<f64> = lines
        .iter()
        .filter_map(|l| {
            let before = l.split(" ms (").next()?;
            before.rsplit(", ").next()?.parse().ok()
        })
        .collect();
    assert_eq!(times.len(), n);
    let warm = warm_up(n);
    let steady: Vec<(f64, f64)> = samples
        .iter()
        .copied()
        .filter(|(d, _)| *d >= warm as f64)
        .collect();
    let rss_slope = slope(&steady) * 1000.0;
    let (first, last, ratio) = drift(&times, warm);
    let (lo, hi) = steady.iter().fold((f64::MAX, f64::MIN), |(a, b), (_, m)| {
        (a.min(*m), b.max(*m))
    });
    println!(
        "SOAK segment: {n} frames in {seconds:.1} s ({:.1} frames/s); RSS after {warm} frames \
         {lo:.1}–{hi:.1} MB over {} samples, slope {rss_slope:+.3} MB per 1000 frames; \
         per-frame time {first:.1} ms (first tenth after warm-up) → {last:.1} ms (last tenth), \
         ratio {ratio:.2}",
        n as f64 / seconds,
        steady.len(),
    );
    let limit = rss_slope_limit(n - warm);
    assert!(
        rss_slope < limit,
        "RSS grows {rss_slope:.3} MB per 1000 frames (limit {limit:.2})"
    );
    assert!(
        ratio < 1.5,
        "per-frame time drifted: {first:.1} → {last:.1} ms"
    );
}

/// Live GPU objects of the device: (buffers, bind groups, MB of buffers and textures).
fn gpu_objects(ctx: &Context) -> (isize, isize, isize) {
    let c = ctx.gpu_objects();
    (
        c.buffers,
        c.bind_groups,
        (c.buffer_bytes + c.texture_bytes) >> 20,
    )
}

#[test]
#[ignore = "minutes; run with --ignored (EMUNET_SOAK_FRAMES sets the length)"]
fn soak_library_batch_and_stream() {
    let n = frames_wanted();
    let dir = tempfile::tempdir().unwrap();
    let images = pool(&dir.path().join("pool"));
    let frames: Vec<Frame> = images.iter().map(|p| Frame::load(p).unwrap().0).collect();
    let ctx = Arc::new(Context::new().unwrap());
    let mut unet = Unet::new(ctx.clone(), &Model::shipped().unwrap()).unwrap();
    let reference: Vec<Vec<f32>> = frames
        .iter()
        .map(|f| unet.segment(f).unwrap().prob)
        .collect();

    // Chunks of 40 frames, alternately 5 batches of 8 and a stream with 3 frames in flight.
    let mut next = 0usize; // the next frame index to hand in
    let mut returned = 0usize; // frames whose result came back and matched
    let mut samples = Vec::new(); // (frames returned, RSS MB, buffers, bind groups, GPU MiB)
    let mut times = Vec::new(); // per-frame ms, one entry per frame of a chunk
    let check = |i: usize, prob: &[f32]| {
        assert!(
            prob == reference[i % POOL].as_slice(),
            "frame {i}: probabilities differ from its pool frame's"
        );
    };
    let start = Instant::now();
    for chunk in 0.. {
        if next >= n {
            break;
        }
        let len = POOL.min(n - next);
        let t = Instant::now();
        if chunk % 2 == 0 {
            for batch in (next..next + len).collect::<Vec<_>>().chunks(8) {
                let input: Vec<Frame> = batch.iter().map(|i| frames[i % POOL].clone()).collect();
                let out = unet.segment_batch(&input).unwrap();
                assert_eq!(out.len(), batch.len());
                for (i, seg) in batch.iter().zip(&out) {
                    check(*i, &seg.prob);
                    returned += 1;
                }
            }
        } else {
            let mut tickets = std::collections::VecDeque::new();
            for i in next..next + len {
                if unet.in_flight() == unet.max_in_flight() {
                    let (ticket, seg) = unet.poll(true).unwrap().unwrap();
                    let (want_ticket, j) = tickets.pop_front().unwrap();
                    assert_eq!(ticket, want_ticket, "tickets come back in order");
                    check(j, &seg.prob);
                    returned += 1;
                }
                tickets.push_back((unet.submit(&frames[i % POOL]).unwrap(), i));
            }
            while let Some((ticket, seg)) = unet.poll(true).unwrap() {
                let (want_ticket, j) = tickets.pop_front().unwrap();
                assert_eq!(ticket, want_ticket);
                check(j, &seg.prob);
                returned += 1;
            }
            assert!(tickets.is_empty(), "every submitted frame came back");
        }
        let per_frame = t.elapsed().as_secs_f64() * 1e3 / len as f64;
        times.extend(std::iter::repeat_n(per_frame, len));
        next += len;
        assert_eq!(returned, next, "frames lost or duplicated");
        let (b, bg, mb) = gpu_objects(&ctx);
        samples.push((returned, rss_mb("self").unwrap(), b, bg, mb));
    }
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(returned, n);

    let warm = warm_up(n);
    let steady: Vec<_> = samples.iter().filter(|s| s.0 >= warm).collect();
    let rss_points: Vec<(f64, f64)> = steady.iter().map(|s| (s.0 as f64, s.1)).collect();
    let rss_slope = slope(&rss_points) * 1000.0;
    let (first, last, ratio) = drift(&times, warm);
    let objects: std::collections::BTreeSet<_> = steady.iter().map(|s| (s.2, s.3, s.4)).collect();
    let (lo, hi) = rss_points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), (_, m)| {
            (a.min(*m), b.max(*m))
        });
    println!(
        "SOAK library: {n} frames in {seconds:.1} s ({:.1} frames/s; batches of 8 and a stream \
         of 3 in flight, alternating every {POOL} frames); RSS after {warm} frames {lo:.1}–{hi:.1} \
         MB, slope {rss_slope:+.3} MB per 1000 frames; live GPU (buffers, bind groups, MiB) after \
         each chunk: {objects:?}; per-frame time {first:.1} → {last:.1} ms, ratio {ratio:.2}",
        n as f64 / seconds
    );
    let limit = rss_slope_limit(n - warm);
    assert!(
        rss_slope < limit,
        "RSS grows {rss_slope:.3} MB per 1000 frames (limit {limit:.2})"
    );
    // The batch plan and the stream's ring are planned once: the same objects after every chunk
    // of one kind, so at most two distinct counts.
    assert!(objects.len() <= 2, "GPU objects change: {objects:?}");
    assert!(
        ratio < 1.5,
        "per-frame time drifted: {first:.1} → {last:.1} ms"
    );
}
