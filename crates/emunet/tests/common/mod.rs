//! Shared test helpers: one GPU context per test binary (tests fail, never skip, without an
//! adapter), seeded random tensors, the tolerance check, and a one-dispatch runner.
#![allow(dead_code)]

use emunet::Context;
use emunet::reference::Tensor;
use rand::{RngExt, SeedableRng};
use std::sync::{Arc, OnceLock};

/// The device every test of the binary shares. Panics (fails the test) without an adapter.
pub fn ctx() -> Arc<Context> {
    static CTX: OnceLock<Arc<Context>> = OnceLock::new();
    CTX.get_or_init(|| match Context::new() {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("GPU tests need an adapter: {e}"),
    })
    .clone()
}

pub fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}

/// A `w × h` mask (0 or 255) with each pixel on with probability `density`.
pub fn random_mask(seed: u64, w: usize, h: usize, density: f64) -> Vec<u8> {
    let mut r = rng(seed);
    (0..w * h)
        .map(|_| if r.random_bool(density) { 255 } else { 0 })
        .collect()
}

/// Uniform values in [-1, 1].
pub fn random_vec(rng: &mut impl rand::Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..=1.0)).collect()
}

pub fn random_tensor(rng: &mut impl rand::Rng, n: usize, c: usize, h: usize, w: usize) -> Tensor {
    Tensor::from_vec(n, c, h, w, random_vec(rng, n * c * h * w))
}

/// Checks |ref − gpu| ≤ atol + rtol·|ref| element-wise with rtol = 1e-4 and atol = 1e-5·max|ref|
/// (absolute floor for outputs that cancel to ~0). NaN (a poisoned element never written) fails.
/// Prints the largest difference; on failure lists the first mismatches.
pub fn assert_close(what: &str, reference: &[f32], gpu: &[f32]) {
    assert_eq!(reference.len(), gpu.len(), "{what}: length");
    let scale = reference
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()))
        .max(1e-6);
    let (rtol, atol) = (1e-4f32, 1e-5 * scale);
    let mut worst = 0.0f32;
    let mut bad = Vec::new();
    for (i, (&r, &g)) in reference.iter().zip(gpu).enumerate() {
        let d = (r - g).abs();
        worst = if d.is_nan() {
            f32::INFINITY
        } else {
            worst.max(d)
        };
        let within = d <= atol + rtol * r.abs(); // false for NaN
        if !within && bad.len() < 8 {
            bad.push(format!("  [{i}] ref {r} gpu {g}"));
        }
    }
    println!(
        "{what}: {} max|diff| = {worst:.3e} (scale {scale:.3e}, {} values)",
        if bad.is_empty() { "OK" } else { "FAIL" },
        reference.len()
    );
    assert!(
        bad.is_empty(),
        "{what}: mismatches (first shown)\n{}",
        bad.join("\n")
    );
}

/// Records one dispatch with `record`, submits, waits.
pub fn run(ctx: &Context, record: impl FnOnce(&mut wgpu::ComputePass)) {
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        record(&mut pass);
    }
    ctx.submit(encoder);
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .unwrap();
}

/// The `emunet` binary: cargo builds it for the tests of its own package (emunet-cli) only.
pub fn emunet_exe() -> &'static str {
    match option_env!("CARGO_BIN_EXE_emunet") {
        Some(exe) => exe,
        None => panic!("only emunet-cli's tests run the emunet binary"),
    }
}

/// A path in the repository (`tests/data/…`, `fuzz/corpus`), whichever crate's tests ask.
pub fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// Runs the `emunet` binary with `args`; returns (success, stdout, stderr) and prints them.
pub fn emunet(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(emunet_exe())
        .args(args)
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout).into_owned();
    let se = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("$ emunet {}\n{so}{se}", args.join(" "));
    (out.status.success(), so, se)
}

/// A model with random weights and biases (He init leaves biases at 0, which would hide bias bugs).
pub fn random_model(depth: usize, channels: usize, seed: u64) -> emunet::Model {
    let mut model = emunet::Model::init_he(depth, channels, seed).unwrap();
    let mut rng = rng(seed + 1000);
    for (name, (_, values)) in model.tensors.iter_mut() {
        if name.ends_with(".bias") {
            for v in values.iter_mut() {
                *v = rng.random_range(-0.1..0.1);
            }
        }
    }
    model
}

/// Every file under `dir` (relative path → bytes).
pub fn files_under(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            for (k, v) in files_under(&path) {
                out.insert(format!("{name}/{k}"), v);
            }
        } else {
            out.insert(name, std::fs::read(&path).unwrap());
        }
    }
    out
}
