//! Flat-field calibration: a simulated run with a known column pattern is recovered, applying the
//! estimate removes the pattern from frames, and the file round-trips and refuses bad content.
//! CPU only.

use emunet::Frame;
use emunet::flatfield::FlatField;
use emunet::simulate::{Preset, SimParams, View, column_pattern, focal_planes};

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
