//! GPU faults end in a clear error within a bounded time, never a hang or a panic: no adapter, a
//! device lost between frames or in the middle of a wait (`device.destroy()`), a readback that
//! does not complete within the GPU timeout (a hung device, as the engine sees one), and an
//! out-of-memory allocation (the process's address space capped, so the driver's allocation
//! fails). On a lost device `segment` stops the run, says which frames were done, and
//! `--skip-existing` finishes the rest with the same bytes as an uninterrupted run.
//!
//! Each library test opens its own context: a destroyed device must not be shared.

use crate::common;
use emunet::{Context, Error, Frame, Unet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn own_ctx() -> Arc<Context> {
    Arc::new(Context::new().expect("GPU tests need an adapter"))
}

/// A frame with some dark blobs, `w × h`.
fn frame(w: usize, h: usize, seed: usize) -> Frame {
    let pixels = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            if (x / 3 + y / 3 + seed).is_multiple_of(7) {
                60
            } else {
                200
            }
        })
        .collect();
    Frame::from_u8(w, h, pixels).unwrap()
}

fn unet(ctx: &Arc<Context>) -> Unet {
    Unet::new(ctx.clone(), &common::random_model(2, 4, 3)).unwrap()
}

fn assert_lost(result: emunet::Result<impl std::fmt::Debug>, needle: &str) {
    match result {
        Err(e @ Error::DeviceLost(_)) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
            assert!(!msg.contains('\n'), "one line: {msg:?}");
        }
        other => panic!("expected DeviceLost({needle}), got {other:?}"),
    }
}

#[test]
fn device_destroyed_between_frames_fails_every_later_call_at_once() {
    let ctx = own_ctx();
    let mut unet = unet(&ctx);
    let f = frame(64, 48, 0);
    unet.segment(&f).unwrap();
    unet.submit(&f).unwrap();
    ctx.device.destroy();
    let start = Instant::now();
    // The frame in flight, then every entry point.
    assert_lost(unet.poll(true), "destroyed");
    assert_lost(unet.segment(&f), "destroyed");
    assert_lost(unet.segment_batch(&[f.clone(), f.clone()]), "destroyed");
    assert_lost(unet.submit(&f), "destroyed");
    assert!(unet.poll(true).unwrap().is_none(), "nothing left in flight");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn device_destroyed_during_a_frame_ends_it_with_the_loss() {
    // Seconds of work on the software driver: one destroy lands while the buffers are planned,
    // the other while the CPU waits for the GPU.
    for delay_ms in [300, 1500] {
        let ctx = own_ctx();
        let mut unet = unet(&ctx);
        unet.set_engine(emunet::unet::Engine::Ops);
        let big = frame(1024, 1024, 1);
        let killer = {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(delay_ms));
                ctx.device.destroy();
            })
        };
        let start = Instant::now();
        let result = unet.segment(&big);
        let waited = start.elapsed();
        killer.join().unwrap();
        println!(
            "destroyed at {delay_ms} ms; segment ended after {waited:?}: {:?}",
            result.as_ref().err()
        );
        // On a fast device the frame may finish before the destroy; then the next one fails.
        if result.is_ok() {
            assert_lost(unet.segment(&big), "destroyed");
        } else {
            assert_lost(result, "destroyed");
        }
        assert!(waited < Duration::from_secs(30), "took {waited:?}");
    }
}

#[test]
fn a_readback_past_the_gpu_timeout_is_a_hung_device() {
    let ctx = own_ctx();
    let mut unet = unet(&ctx);
    unet.set_engine(emunet::unet::Engine::Ops);
    let big = frame(1024, 1024, 2);
    unet.segment(&frame(64, 64, 0)).unwrap();
    ctx.set_gpu_timeout(Duration::from_millis(150));
    assert_eq!(ctx.gpu_timeout(), Duration::from_millis(150));
    let start = Instant::now();
    let result = unet.segment(&big);
    let waited = start.elapsed();
    println!(
        "segment ended after {waited:?}: {:?}",
        result.as_ref().err()
    );
    assert_lost(result, "within 0.1 s");
    assert!(waited < Duration::from_secs(10), "took {waited:?}");
    // A hung device stays unusable: the next call fails at once with the same reason.
    let start = Instant::now();
    assert_lost(unet.segment(&frame(64, 64, 0)), "taken to be hung");
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn the_default_timeout_follows_the_adapter_and_the_work_in_flight() {
    if std::env::var_os("EMUNET_GPU_TIMEOUT").is_some() {
        return;
    }
    let ctx = own_ctx();
    let cpu = ctx.info.device_type == wgpu::DeviceType::Cpu;
    let base = if cpu {
        emunet::gpu::CPU_ADAPTER_TIMEOUT
    } else {
        emunet::gpu::GPU_TIMEOUT
    };
    assert_eq!(ctx.gpu_timeout(), base);
    // Work in flight adds its time at the floor speed: 1 GFLOP/s on a CPU adapter, 100 on a GPU
    // (for a 1280×1024 frame of the shipped UNet(2,16), about a minute and 0.6 s).
    let flops = Unet::flops(2, 16, 1024, 1280);
    {
        let _one = ctx.expect_work(flops);
        let _two = ctx.expect_work(flops);
        let extra = ctx.gpu_timeout() - base;
        let want = 2.0 * flops as f64 / if cpu { 1e9 } else { 1e11 };
        assert!((extra.as_secs_f64() - want).abs() < 0.1, "{extra:?}");
    }
    assert_eq!(ctx.gpu_timeout(), base, "the work's share ends with it");
    // A fixed timeout is the whole limit.
    ctx.set_gpu_timeout(Duration::from_secs(3));
    let _work = ctx.expect_work(flops);
    assert_eq!(ctx.gpu_timeout(), Duration::from_secs(3));
}

/// Runs the CLI with extra environment variables (and an address-space cap in KiB), returning
/// (exit code, stdout, stderr, seconds).
fn run(args: &[&str], env: &[(&str, &str)], cap_kib: Option<u64>) -> (i32, String, String, f64) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emunet"));
    cmd.args(args).envs(env.iter().copied());
    if let Some(kib) = cap_kib {
        use std::os::unix::process::CommandExt;
        // SAFETY: only setrlimit runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: kib * 1024,
                    rlim_max: kib * 1024,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let so = String::from_utf8_lossy(&out.stdout).into_owned();
    let se = String::from_utf8_lossy(&out.stderr).into_owned();
    println!(
        "$ {env:?} emunet {} ({seconds:.1} s)\n{so}{se}",
        args.join(" ")
    );
    (out.status.code().unwrap_or(-1), so, se, seconds)
}

fn no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
}

/// Writes `n` frames of `w × h` into `dir` and a small model beside; returns the model's path.
fn corpus(dir: &Path, n: usize, w: u32, h: u32) -> String {
    std::fs::create_dir_all(dir.join("frames")).unwrap();
    for i in 0..n {
        frame(w as usize, h as usize, i)
            .save_png(&dir.join(format!("frames/f{i:02}.png")))
            .unwrap();
    }
    let weights = dir.join("w.safetensors");
    common::random_model(2, 4, 3).save(&weights).unwrap();
    weights.to_str().unwrap().to_string()
}

#[test]
fn segment_stops_cleanly_on_a_lost_device_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let w = corpus(dir.path(), 10, 96, 64);
    let frames = dir.path().join("frames");
    let args = |out: &Path| {
        vec![
            "segment".to_string(),
            "--weights".into(),
            w.clone(),
            "--json".into(),
            "--skip-existing".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
            frames.to_str().unwrap().into(),
        ]
    };
    let reference = dir.path().join("reference");
    let a = args(&reference);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    assert_eq!(run(&a, &[], None).0, 0);

    let out = dir.path().join("out");
    let b = args(&out);
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    let (code, stdout, stderr, seconds) =
        run(&b, &[("EMUNET_TEST_DESTROY_DEVICE_AFTER", "4")], None);
    no_panic(&stderr);
    assert_eq!(code, 3, "a device fault exits 3");
    assert!(
        stderr.contains("stopped: GPU device lost: the device was destroyed"),
        "{stderr}"
    );
    assert!(stderr.contains("--skip-existing"), "{stderr}");
    assert!(seconds < 30.0);
    // Exactly the frames reported done have all their outputs; the others have none.
    let done: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|t| t.strip_suffix(':'))
        .filter(|t| t.ends_with(".png"))
        .collect();
    assert!((1..10).contains(&done.len()), "{done:?}");
    assert!(stderr.contains(&format!("{} of 10 frame(s) were done", done.len())));
    let written: std::collections::BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written.len(), done.len() * 4, "{written:?}");
    for d in &done {
        let stem = Path::new(d).file_stem().unwrap().to_string_lossy();
        for ext in ["mask.png", "prob.npy", "clusters.csv", "clusters.json"] {
            let name = format!("{stem}.{ext}");
            assert_eq!(
                std::fs::read(out.join(&name)).unwrap(),
                std::fs::read(reference.join(&name)).unwrap(),
                "{name}"
            );
        }
    }
    // The re-run finishes the rest; every file equals the uninterrupted run's.
    let (code, _, stderr, _) = run(&b, &[], None);
    assert_eq!(code, 0, "{stderr}");
    for entry in std::fs::read_dir(&reference).unwrap().flatten() {
        let name = entry.file_name();
        assert_eq!(
            std::fs::read(out.join(&name)).unwrap(),
            std::fs::read(entry.path()).unwrap(),
            "{name:?}"
        );
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 40);
}

#[test]
fn segment_stops_on_a_hung_device_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let w = corpus(dir.path(), 3, 768, 768);
    let out = dir.path().join("out");
    let frames = dir.path().join("frames");
    let (code, _, stderr, seconds) = run(
        &[
            "segment",
            "--weights",
            &w,
            "--engine",
            "ops",
            // An empty mask: the time is the GPU's, not the cluster stage's.
            "--threshold",
            "0.999",
            "--out",
            out.to_str().unwrap(),
            frames.to_str().unwrap(),
        ],
        &[("EMUNET_GPU_TIMEOUT", "0.1")],
        None,
    );
    no_panic(&stderr);
    assert_eq!(code, 3);
    assert!(stderr.contains("within 0.1 s"), "{stderr}");
    assert!(stderr.contains("of 3 frame(s) were done"), "{stderr}");
    // The process may wait for the driver to finish the frame it was given before it exits.
    assert!(seconds < 30.0, "took {seconds:.1} s");
}

#[test]
fn bad_timeout_setting_no_adapter_and_out_of_memory_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    // The shipped model on a 4096×4096 frame needs more than 2 GB of buffers.
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    frame(4096, 4096, 0)
        .save_png(&frames.join("big.png"))
        .unwrap();
    let out = dir.path().join("out");
    let seg = [
        "segment",
        "--out",
        out.to_str().unwrap(),
        frames.to_str().unwrap(),
    ];
    let (code, _, stderr, _) = run(&seg, &[("EMUNET_GPU_TIMEOUT", "soon")], None);
    no_panic(&stderr);
    assert_eq!(code, 1);
    assert!(stderr.contains("EMUNET_GPU_TIMEOUT=\"soon\""), "{stderr}");

    // No Vulkan driver at all, and a driver that is not the one asked for.
    let none = [
        ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
        ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
    ];
    for env in [&none[..], &[("EMUNET_ADAPTER", "no-such-gpu")][..]] {
        let (code, _, stderr, seconds) = run(&["info"], env, None);
        no_panic(&stderr);
        assert_eq!(code, 1);
        assert!(stderr.contains("error: no GPU adapter found"), "{stderr}");
        assert!(seconds < 30.0);
    }

    // 2 GB of address space opens the device (the software driver's memory is the process's)
    // but cannot hold the frame's buffers: the frame fails with the driver's out-of-memory.
    let (code, stdout, stderr, seconds) = run(&seg, &[], Some(2_000_000));
    no_panic(&stderr);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("big.png: GPU error in planning buffers: Out of Memory"),
        "{stderr}"
    );
    assert!(
        stdout.contains("0 frame(s) segmented, 1 failed"),
        "{stdout}"
    );
    assert!(seconds < 60.0);
}
