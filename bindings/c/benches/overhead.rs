//! Call overhead of the C ABI against the Rust API on one 1280×1024 simulated nominal frame with
//! the shipped model, in this process on one adapter, two ways:
//! - direct: the wall time of `emunet_segment_u8` (writing the mask, the probabilities and the
//!   clusters: the caller's pixels copied in, the results out) against the time the same call
//!   spent in the Rust API inside it (`emunet::last_core_seconds`); what is left is the binding's
//!   own work, free of the GPU's call-to-call noise;
//! - end to end: pairs of calls (their order alternating) of the Rust API's `Unet::segment` +
//!   `Segmentation::mask` + `cluster_list` on its own engine and of `emunet_segment_u8`; on a
//!   software driver their difference is mostly noise.
//!
//! `cargo bench -p emunet-c --bench overhead` (pairs: EMUNET_BENCH_PAIRS, default 8);
//! `benches/bindings.sh` runs it with the Python module's bench.

use emunet::{EMUNET_OK, emunet_cluster, emunet_engine, emunet_engine_free, emunet_engine_new};
use emunet_core::simulate::{Preset, SimParams, View};
use emunet_core::{Context, Model, Unet};
use std::sync::Arc;
use std::time::Instant;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let pairs: usize = std::env::var("EMUNET_BENCH_PAIRS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let params = SimParams::preset(Preset::Nominal);
    let (w, h) = (params.width, params.height);
    let frame = View::new(&params, 1, 0)
        .expect("simulated view")
        .render("bench".into(), 20.0)
        .image;
    let pixels: Vec<u8> = (0..frame.len()).map(|i| frame.value(i) as u8).collect();

    let ctx = Arc::new(Context::new().expect("a GPU adapter"));
    let mut unet = Unet::new(ctx.clone(), &Model::shipped().expect("shipped model")).unwrap();
    unet.set_precision(None); // the C ABI's (and the CLI's) auto precision
    let mut engine: *mut emunet_engine = std::ptr::null_mut();
    // SAFETY: a NULL path (the shipped model) and a writable out pointer.
    assert_eq!(
        unsafe { emunet_engine_new(std::ptr::null(), &mut engine) },
        EMUNET_OK
    );
    let mut mask = vec![0u8; w * h];
    let mut prob = vec![0f32; w * h];
    let mut clusters = vec![emunet_cluster::default(); 1 << 16];

    let mut rust = || {
        let start = Instant::now();
        let seg = unet.segment(&frame).unwrap();
        let m = seg.mask();
        let found = seg.cluster_list(&frame);
        let t = start.elapsed().as_secs_f64();
        std::hint::black_box((m, found.len()));
        t
    };
    let mut c = || {
        let mut n = 0usize;
        let start = Instant::now();
        // SAFETY: the engine is live; pixels hold h rows of w bytes; the outputs hold w·h
        // elements and `clusters.len()` clusters.
        let rc = unsafe {
            emunet::emunet_segment_u8(
                engine,
                pixels.as_ptr(),
                w as u32,
                h as u32,
                w,
                mask.as_mut_ptr(),
                prob.as_mut_ptr(),
                clusters.as_mut_ptr(),
                clusters.len(),
                &mut n,
            )
        };
        let t = start.elapsed().as_secs_f64();
        assert_eq!(rc, EMUNET_OK);
        std::hint::black_box(n);
        (t, emunet::last_core_seconds())
    };
    eprintln!(
        "{} ({:?}): {w}×{h} nominal frame, shipped model, {pairs} pairs after a warm-up call each",
        ctx.info.name, ctx.info.backend
    );
    rust();
    c();
    let (mut rust_s, mut c_s, mut rel, mut own) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let (r, (b, core)) = if i % 2 == 0 {
            let r = rust();
            (r, c())
        } else {
            let b = c();
            (rust(), b)
        };
        eprintln!(
            "pair {i}: Rust API {:.1} ms; C ABI {:.1} ms, of which the Rust API inside it {:.1} ms",
            r * 1e3,
            b * 1e3,
            core * 1e3
        );
        rust_s.push(r);
        c_s.push(b);
        rel.push((b - r) / r);
        own.push((b - core, (b - core) / core));
    }
    let range = |v: &[f64]| {
        v.iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            })
    };
    let mut own_ms: Vec<f64> = own.iter().map(|o| o.0 * 1e3).collect();
    let mut own_rel: Vec<f64> = own.iter().map(|o| o.1 * 100.0).collect();
    let (_, own_max) = range(&own_rel);
    println!(
        "C ABI vs Rust API, one {w}×{h} frame: direct overhead {:.2} ms = {:+.3} % of the Rust API time (median of {pairs} calls, max {:+.3} %)",
        median(&mut own_ms),
        median(&mut own_rel),
        own_max
    );
    let (lo, hi) = range(&rel);
    println!(
        "  end to end: Rust API {:.1} ms, C ABI {:.1} ms (medians), C − Rust {:+.2} % (median of {pairs} pairs, range {:+.2} … {:+.2} %: the GPU's noise)",
        median(&mut rust_s) * 1e3,
        median(&mut c_s) * 1e3,
        median(&mut rel) * 100.0,
        lo * 100.0,
        hi * 100.0
    );
    // SAFETY: the engine from emunet_engine_new, freed once.
    unsafe { emunet_engine_free(engine) };
}
