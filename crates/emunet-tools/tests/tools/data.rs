//! Training data on the CPU: pairs are matched by stem and every bad file is reported, the split
//! is by file and reproducible, and augmented crops keep each pixel aligned with its label
//! through crops, flips and quarter turns.

use emunet::Frame;
use emunet::model::Normalization;
use emunet_tools::data::{self, Augment, Pair, Targets};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// A 16-bit frame whose pixel values encode their positions (1000 + y·w + x), with a mask that
/// is on at an irregular pattern of positions.
fn coded_frame(w: usize, h: usize) -> (Frame, Vec<u8>) {
    let values: Vec<u16> = (0..w * h).map(|i| 1000 + i as u16).collect();
    let mask = (0..w * h)
        .map(|i| ((i % w) * 7 + (i / w) * 3 + (i * i) % 11).is_multiple_of(5) as u8)
        .collect();
    (Frame::from_u16(w, h, values).unwrap(), mask)
}

#[test]
fn geometric_crops_keep_every_pixel_with_its_label() {
    let (w, h, c) = (37, 29, 16);
    let (frame, mask) = coded_frame(w, h);
    // The whole frame's z-score of v / max, as the generator computes it.
    let max = frame.max_value() as f64;
    let scaled: Vec<f64> = (0..w * h).map(|i| frame.value(i) as f64 / max).collect();
    let mean = scaled.iter().sum::<f64>() / scaled.len() as f64;
    let std = (scaled.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / scaled.len() as f64).sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut orientations = HashSet::new();
    let mut crops_only = HashSet::new();
    for k in 0..300 {
        // Every third crop without flips and turns (`--augment crops`).
        let a = Augment {
            normalization: Normalization::Zscore,
            orient: k % 3 != 0,
            ..Augment::geometric(c)
        };
        let s = data::augment_pair(&frame, Targets::Mask(&mask), &a, &mut rng).unwrap();
        assert_eq!((s.x.len(), s.t.len()), (c * c, c * c));
        let pos: Vec<(usize, usize)> =
            s.x.iter()
                .map(|&z| {
                    let v = ((z as f64 * std + mean) * max).round() as usize;
                    let i = v - 1000;
                    assert!(i < w * h, "decoded value {v} is not a frame pixel");
                    (i % w, i / w)
                })
                .collect();
        // Every output pixel carries its own label.
        for (k, &(x, y)) in pos.iter().enumerate() {
            assert_eq!(s.t[k], mask[y * w + x] as f32, "label of pixel ({x}, {y})");
        }
        // The pixels form one c × c window of the frame, each once.
        let (x0, y0) = (
            pos.iter().map(|p| p.0).min().unwrap(),
            pos.iter().map(|p| p.1).min().unwrap(),
        );
        let set: HashSet<_> = pos.iter().copied().collect();
        assert_eq!(set.len(), c * c);
        assert!(set.iter().all(|&(x, y)| x < x0 + c && y < y0 + c));
        // Neighbours stay neighbours (a rigid motion), and which one tells the orientation.
        let right = (
            pos[1].0 as isize - pos[0].0 as isize,
            pos[1].1 as isize - pos[0].1 as isize,
        );
        let down = (
            pos[c].0 as isize - pos[0].0 as isize,
            pos[c].1 as isize - pos[0].1 as isize,
        );
        assert_eq!(right.0.abs() + right.1.abs(), 1);
        assert_eq!(down.0.abs() + down.1.abs(), 1);
        if a.orient {
            orientations.insert((right, down));
        } else {
            crops_only.insert((right, down));
        }
    }
    // Flips and quarter turns together give all eight orientations of the square; without
    // them every crop keeps the frame's own.
    assert_eq!(orientations.len(), 8);
    assert_eq!(crops_only, HashSet::from([((1, 0), (0, 1))]));
}

#[test]
fn full_augmentation_changes_values_but_keeps_the_normalisation() {
    let (frame, mask) = coded_frame(40, 40);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let zscore = |a: Augment| Augment {
        normalization: Normalization::Zscore,
        ..a
    };
    let geometric = data::augment_pair(
        &frame,
        Targets::Mask(&mask),
        &zscore(Augment::geometric(40)),
        &mut rng,
    )
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let full = data::augment_pair(
        &frame,
        Targets::Mask(&mask),
        &zscore(Augment::new(40)),
        &mut rng,
    )
    .unwrap();
    // A full-frame crop: the z-score has mean 0 and, before noise and blur, unit spread.
    for s in [&geometric, &full] {
        let n = s.x.len() as f64;
        let mean = s.x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = s.x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((0.8..=1.05).contains(&var.sqrt()), "std {}", var.sqrt());
    }
    assert_ne!(geometric.x, full.x);
}

fn save(frame: &Frame, path: &std::path::Path) {
    frame.save_png(path).unwrap();
}

#[test]
fn pairs_are_matched_by_stem_and_every_bad_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (images, masks) = (dir.path().join("images"), dir.path().join("masks"));
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&masks).unwrap();
    let frame = |w, h| Frame::from_u8(w, h, (0..w * h).map(|i| (i % 251) as u8).collect()).unwrap();
    let on = |w, h| {
        Frame::from_u8(w, h, (0..w * h).map(|i| 255 * (i % 3 == 0) as u8).collect()).unwrap()
    };
    save(&frame(8, 6), &images.join("a.png"));
    save(&on(8, 6), &masks.join("a.png"));
    save(&frame(8, 6), &images.join("b.png"));
    save(&on(6, 6), &masks.join("b.png")); // wrong size
    save(&frame(8, 6), &images.join("c.png")); // no mask
    save(&on(8, 6), &masks.join("d.png")); // no image
    std::fs::write(images.join("e.png"), b"not a png").unwrap(); // unreadable
    save(&on(8, 6), &masks.join("e.png"));
    std::fs::write(images.join("notes.txt"), b"ignored").unwrap();

    let (pairs, problems) = data::load_pairs(dir.path()).unwrap();
    let names: Vec<&str> = pairs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a"]);
    assert_eq!(
        pairs[0].mask,
        (0..48).map(|i| (i % 3 == 0) as u8).collect::<Vec<_>>()
    );
    assert_eq!(problems.len(), 4, "{problems:#?}");
    for (needle, what) in [
        ("b.png", "6×6"),
        ("c.png", "no mask"),
        ("d.png", "no image"),
        ("e.png", "e.png"),
    ] {
        assert!(
            problems
                .iter()
                .any(|p| p.contains(needle) && p.contains(what)),
            "no report of {needle} ({what}) in {problems:#?}"
        );
    }
    // A folder without masks/ is an error, not an empty data set.
    std::fs::remove_dir_all(&masks).unwrap();
    assert!(data::load_pairs(dir.path()).is_err());
}

#[test]
fn the_split_is_by_file_and_reproducible() {
    let pairs: Vec<Pair> = (0..20)
        .map(|k| Pair {
            name: format!("f{k:02}"),
            frame: Frame::from_u8(2, 2, vec![k as u8; 4]).unwrap(),
            mask: vec![0; 4],
        })
        .collect();
    let names = |v: &[Pair]| v.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    let (train, val) = data::split(pairs.clone(), 0.1, 5);
    assert_eq!((train.len(), val.len()), (18, 2));
    let all: HashSet<String> = names(&train).into_iter().chain(names(&val)).collect();
    assert_eq!(all.len(), 20, "every file in exactly one part");
    let (train2, val2) = data::split(pairs.clone(), 0.1, 5);
    assert_eq!((names(&train), names(&val)), (names(&train2), names(&val2)));
    let other: Vec<Vec<String>> = (6..12)
        .map(|seed| names(&data::split(pairs.clone(), 0.1, seed).1))
        .collect();
    assert!(
        other.iter().any(|v| *v != names(&val)),
        "the seed changes the split"
    );
    // Two files: one for each part; one file: nothing to validate on.
    assert_eq!(data::split(pairs[..2].to_vec(), 0.1, 0).1.len(), 1);
    assert_eq!(data::split(pairs[..1].to_vec(), 0.1, 0).1.len(), 0);
}

#[test]
fn soft_simulated_targets_threshold_to_the_truth_mask() {
    use emunet_tools::data::{Generator, Source};
    use emunet_tools::simulate::{Preset, SimParams};
    let generator = |soft_target| Generator {
        source: Source::Simulate {
            params: Box::new(SimParams::preset(Preset::Nominal)),
            seed: 4,
            size: 80,
            soft_target,
        },
        augment: Augment::geometric(64),
    };
    let (hard, soft) = (generator(0.0), generator(1.5));
    let (mut on, mut between) = (0, 0);
    for k in 0..6 {
        let a = hard.sample(&mut ChaCha8Rng::seed_from_u64(k)).unwrap();
        let b = soft.sample(&mut ChaCha8Rng::seed_from_u64(k)).unwrap();
        assert_eq!(a.x, b.x, "the same frame and crop");
        for (&t, &s) in a.t.iter().zip(&b.t) {
            assert!((0.0..=1.0).contains(&s));
            assert!(t == 0.0 || t == 1.0);
            // The soft target's 0.5 level is the mask (rounding aside, right at the contour).
            if (s >= 0.5) != (t == 1.0) {
                assert!((s - 0.5).abs() < 1e-4, "soft {s}, mask {t}");
            }
            on += (t == 1.0) as usize;
            between += (s > 0.05 && s < 0.95) as usize;
        }
    }
    assert!(on > 0 && between > 0, "on {on}, between {between}");
}

#[test]
fn median_rule_keeps_grey_levels_about_the_frame_median() {
    let (frame, mask) = coded_frame(40, 40);
    let a = Augment {
        orient: false,
        ..Augment::geometric(40)
    };
    assert_eq!(a.normalization, Normalization::Median);
    let s = data::augment_pair(
        &frame,
        Targets::Mask(&mask),
        &a,
        &mut ChaCha8Rng::seed_from_u64(3),
    )
    .unwrap();
    let median = emunet::reference::frame_median(&frame) as f64;
    let max = frame.max_value() as f64;
    for (i, &x) in s.x.iter().enumerate() {
        let expected = (frame.value(i) as f64 - median) / max * 255.0 / 32.0;
        assert!(
            (x as f64 - expected).abs() < 1e-5,
            "pixel {i}: {x} vs {expected}"
        );
    }
}
