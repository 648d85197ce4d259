//! Flat-field calibration: a simulated run with a known column pattern is recovered, applying the
//! estimate removes the pattern from frames, and the file round-trips and refuses bad content; the
//! GPU correction (`flatfield.wgsl`) equals the reference bit for bit, alone and inside the U-Net.

use crate::common;
use emunet::Frame;
use emunet::flatfield::FlatField;
use emunet_tools::simulate::{Preset, SimParams, View, column_pattern, focal_planes};
use rand::RngExt;

fn run(views: u64, seed: u64) -> (SimParams, Vec<Frame>) {
    let mut p = SimParams::preset(Preset::Nominal);
    (p.width, p.height) = (320, 256);
    p.column_sigma = 2.0;
    let frames = (0..views)
        .map(|v| {
            let z = focal_planes(&p, seed, v, 1)[0];
            View::new(&p, seed, v)
                .unwrap()
                .render(format!("f{v}"), z)
                .image
        })
        .collect();
    (p, frames)
}

/// σ of the columns' median levels about a running mean of ±16 columns: the column pattern a
/// frame shows.
fn column_sigma(f: &Frame) -> f64 {
    let (w, h) = (f.width, f.height);
    let medians: Vec<f64> = (0..w)
        .map(|x| {
            let mut c: Vec<u32> = (0..h).map(|y| f.value(y * w + x)).collect();
            c.sort_unstable();
            c[h / 2] as f64
        })
        .collect();
    let dev: Vec<f64> = (16..w - 16)
        .map(|x| medians[x] - medians[x - 16..=x + 16].iter().sum::<f64>() / 33.0)
        .collect();
    (dev.iter().map(|d| d * d).sum::<f64>() / dev.len() as f64).sqrt()
}

#[test]
fn known_column_pattern_is_recovered_and_removed() {
    let seed = 21;
    let (p, frames) = run(9, seed);
    let flat = FlatField::estimate(&frames).unwrap();
    let truth = column_pattern(&p, seed);
    let mean = truth.iter().sum::<f64>() / truth.len() as f64;
    let err = (truth
        .iter()
        .zip(&flat.offset)
        .map(|(t, &o)| (t - mean - o as f64).powi(2))
        .sum::<f64>()
        / truth.len() as f64)
        .sqrt();
    println!(
        "column pattern σ {}: recovered with RMS error {err:.3} grey levels",
        p.column_sigma
    );
    assert!(err < 0.5, "column offsets off by {err} RMS");
    // The gain map follows the 6 % vignetting: mean 1, a few per cent from edge to centre.
    let (gmin, gmax) = flat
        .gain
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &g| (a.min(g), b.max(g)));
    assert!(
        gmax - gmin > 0.02 && gmax - gmin < 0.12,
        "gain spans {gmin}..{gmax}"
    );
    // A frame of the same run that was not in the estimate: its column pattern drops.
    let (_, fresh) = run(11, seed);
    let before = column_sigma(&fresh[10]);
    let after = column_sigma(&flat.apply(&fresh[10]).unwrap());
    println!("a fresh frame's column σ: {before:.2} before, {after:.2} after");
    assert!(after < 0.5 * before, "column σ {before} → {after}");
}

#[test]
fn file_round_trips_and_bad_input_is_refused() {
    let (_, frames) = run(3, 5);
    let flat = FlatField::estimate(&frames).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flat.safetensors");
    flat.save(&path).unwrap();
    assert_eq!(FlatField::load(&path).unwrap(), flat);
    assert!(
        FlatField::estimate(&frames[..2]).is_err(),
        "two frames are too few"
    );
    let other = Frame::from_u8(16, 16, vec![200; 256]).unwrap();
    assert!(flat.apply(&other).is_err(), "size mismatch");
    let mixed = vec![frames[0].clone(), frames[1].clone(), other];
    assert!(FlatField::estimate(&mixed).is_err(), "frames of two sizes");
    let err = FlatField::from_bytes(b"not safetensors").unwrap_err();
    assert!(err.contains("not a flat-field file"), "{err}");
    let weights = emunet::Model::init_he(1, 4, 0).unwrap().to_bytes().unwrap();
    let err = FlatField::from_bytes(&weights).unwrap_err();
    assert!(err.contains("format"), "{err}");
}

/// A random flat-field for `w × h` frames of `bits` bits: gain 0.8–1.25, column offsets ±6 grey
/// levels (8-bit units).
fn random_flat(seed: u64, w: usize, h: usize, bits: u32) -> FlatField {
    let mut r = common::rng(seed);
    let unit = if bits == 8 { 1.0 } else { 257.0 };
    FlatField {
        width: w,
        height: h,
        gain: (0..w * h).map(|_| r.random_range(0.8f32..1.25)).collect(),
        offset: (0..w)
            .map(|_| unit * r.random_range(-6.0f32..6.0))
            .collect(),
        frames: 3,
    }
}

fn random_frame(seed: u64, w: usize, h: usize, bits: u32) -> Frame {
    let mut r = common::rng(seed);
    if bits == 8 {
        Frame::from_u8(w, h, (0..w * h).map(|_| r.random::<u8>()).collect()).unwrap()
    } else {
        Frame::from_u16(w, h, (0..w * h).map(|_| r.random::<u16>()).collect()).unwrap()
    }
}

#[test]
fn gpu_flatfield_equals_the_reference_bit_for_bit() {
    let ctx = common::ctx();
    for (seed, (w, h, bits)) in [
        (1, 1, 8),
        (5, 3, 8),
        (37, 23, 8),
        (64, 48, 8),
        (1, 1, 16),
        (17, 9, 16),
        (33, 7, 16),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = seed as u64;
        let flat = random_flat(100 + seed, w, h, bits);
        let frame = random_frame(200 + seed, w, h, bits);
        let expected = flat.apply(&frame).unwrap();
        // The padding of the last word is a poison pattern the shader must leave alone.
        let mut words = frame.packed_words();
        let per_word = (32 / bits) as usize;
        let used = (w * h) % per_word;
        let padding = if used == 0 {
            0
        } else {
            !0u32 << (used as u32 * bits)
        };
        *words.last_mut().unwrap() |= 0xA5A5_A5A5 & padding;
        let raw = ctx.upload("raw", &words);
        let gpu = emunet::flatfield::GpuFlatField::upload(&ctx, &flat);
        let dispatch = gpu.dispatch(&ctx, &raw, w, h, bits).unwrap();
        common::run(&ctx, |pass| dispatch.record(pass));
        let got: Vec<u32> = ctx.read(&raw).unwrap();
        let corrected = Frame::from_packed_words(w, h, bits, &got).unwrap();
        assert_eq!(corrected, expected, "{w}×{h} {bits}-bit");
        assert_eq!(
            got.last().unwrap() & padding,
            0xA5A5_A5A5 & padding,
            "padding kept"
        );
        // Another frame size is refused with a clear error.
        let err = gpu
            .dispatch(&ctx, &raw, w + 1, h, bits)
            .unwrap_err()
            .to_string();
        assert!(err.contains("flat-field is for"), "{err}");
    }
}

#[test]
fn unet_with_a_flatfield_sees_the_corrected_frame() {
    use emunet::{Model, Unet};
    let ctx = common::ctx();
    let model = Model::init_he(2, 4, 5).unwrap();
    // 37×29 8-bit: 269 packed words, not a whole number of the 16-byte blocks buffers come in.
    let (w, h) = (37, 29);
    let flat = random_flat(7, w, h, 8);
    let frame = random_frame(8, w, h, 8);
    let mut unet = Unet::new(ctx.clone(), &model).unwrap();
    let plain = unet.segment(&flat.apply(&frame).unwrap()).unwrap();
    assert!(plain.corrected.is_none());
    unet.set_flatfield(Some(&flat));
    let corrected = unet.segment(&frame).unwrap();
    assert_eq!(
        corrected.corrected.as_ref(),
        Some(&flat.apply(&frame).unwrap())
    );
    assert_eq!(
        corrected.prob, plain.prob,
        "same input bits, same probabilities"
    );
    // A frame of another size is refused, and the next right-sized frame still works.
    let err = unet
        .segment(&random_frame(9, w + 4, h, 8))
        .unwrap_err()
        .to_string();
    assert!(err.contains("flat-field is for"), "{err}");
    assert_eq!(unet.segment(&frame).unwrap().prob, plain.prob);
}
