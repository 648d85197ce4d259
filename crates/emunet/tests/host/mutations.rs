//! Seeded byte-level mutations of valid files through every decoder of user input — the frame
//! decoder (PNG and TIFF, 8 and 16 bits), the weights loader, the `.npy` reader and the clusters
//! CSV reader — after the committed fuzz corpus (`fuzz/corpus/<target>/`). Each input must give
//! a value or an error, never a panic. Bounded: about 15 s in all (EMUNET_MUTATION_SECONDS).
//! A failing input is written to target/mutation-failures/ to be replayed.

use emunet::{Frame, Model};
use rand::{Rng, RngExt, SeedableRng};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

/// The decoders, by fuzz target name.
const TARGETS: [&str; 4] = ["frame_decode", "weights_load", "npy_read", "clusters_csv"];

fn run(target: &str, bytes: &[u8]) {
    match target {
        "frame_decode" => {
            if let Ok((frame, _)) = Frame::decode(bytes, Path::new("mutant.png")) {
                assert_eq!(frame.len(), frame.width * frame.height);
            }
        }
        "weights_load" => {
            let _ = Model::from_bytes(bytes);
        }
        "npy_read" => {
            if let Ok((data, rows, cols)) = emunet::npy::from_bytes(bytes, "mutant.npy") {
                assert_eq!(data.len(), rows * cols);
            }
        }
        "clusters_csv" => {
            let _ = emunet::clusters::csv_positions(&String::from_utf8_lossy(bytes), "mutant.csv");
        }
        other => unreachable!("no target {other}"),
    }
}

/// Valid files of each target to mutate.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let encode = |image: image::DynamicImage, format| {
        let mut bytes = Vec::new();
        image
            .write_to(&mut std::io::Cursor::new(&mut bytes), format)
            .unwrap();
        bytes
    };
    let gray = image::GrayImage::from_fn(24, 20, |x, y| image::Luma([(x * 7 + y * 13) as u8]));
    let deep = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(17, 9, |x, y| {
        image::Luma([(x * 3001 + y * 17) as u16])
    });
    match target {
        "frame_decode" => vec![
            encode(gray.clone().into(), image::ImageFormat::Png),
            encode(deep.clone().into(), image::ImageFormat::Png),
            encode(gray.into(), image::ImageFormat::Tiff),
            encode(deep.into(), image::ImageFormat::Tiff),
        ],
        "weights_load" => vec![Model::init_he(1, 2, 3).unwrap().to_bytes().unwrap()],
        "npy_read" => vec![
            emunet::npy::to_bytes(&[0.5, -1.0, 2.0, 3.5, 1e-3, 7.0], 2, 3),
            emunet::npy::to_bytes(&[], 0, 4),
        ],
        "clusters_csv" => {
            let mask: Vec<u8> = (0..64 * 48)
                .map(|i| {
                    if (i % 64 / 5 + i / 64 / 4) % 3 == 0 {
                        255
                    } else {
                        0
                    }
                })
                .collect();
            let found = emunet::clusters::find_clusters(
                &mask,
                64,
                48,
                emunet::clusters::Connectivity::Eight,
                None,
                (0.0, 0.0),
            );
            vec![emunet::clusters::to_csv(&found).into_bytes()]
        }
        other => unreachable!("no target {other}"),
    }
}

/// Values that break length fields and offsets.
const INTERESTING: [u32; 8] = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, u32::MAX];

/// One to four random edits: bit flips, interesting bytes and words, truncation, insertion,
/// deletion, duplication of a run.
fn mutate(rng: &mut impl Rng, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = b.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..len)
        };
        match rng.random_range(0..7) {
            0 if len > 0 => b[at] ^= 1 << rng.random_range(0..8),
            1 if len > 0 => b[at] = INTERESTING[rng.random_range(0..8)] as u8,
            2 if len >= 4 => {
                let at = rng.random_range(0..=len - 4);
                let v = INTERESTING[rng.random_range(0..8)];
                let word = if rng.random() {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                b[at..at + 4].copy_from_slice(&word);
            }
            3 => b.truncate(at),
            4 => {
                let n = rng.random_range(1..=16);
                let extra: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                b.splice(at..at, extra);
            }
            5 if len > 0 => {
                let end = (at + rng.random_range(1..=32)).min(len);
                b.drain(at..end);
            }
            _ if len > 0 => {
                let end = (at + rng.random_range(1..=32)).min(len);
                let run = b[at..end].to_vec();
                let to = rng.random_range(0..=b.len());
                b.splice(to..to, run);
            }
            _ => {}
        }
    }
    b
}

/// Runs `bytes` through `target`; on a panic, saves the input and says how to replay it.
fn check(target: &str, what: &str, bytes: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| run(target, bytes))).is_err() {
        let dir = crate::common::repo("target/mutation-failures");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{target}-{what}"));
        std::fs::write(&path, bytes).unwrap();
        panic!(
            "{target} panicked on {what}; input saved as {}",
            path.display()
        );
    }
}

#[test]
fn corpus_and_mutations_give_values_or_errors_never_panics() {
    let budget = std::env::var("EMUNET_MUTATION_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15.0);
    let corpus = crate::common::repo("fuzz/corpus");
    let mut corpus_files = 0;
    for target in TARGETS {
        let Ok(entries) = std::fs::read_dir(corpus.join(target)) else {
            continue;
        };
        for entry in entries.flatten() {
            let bytes = std::fs::read(entry.path()).unwrap();
            check(target, &entry.file_name().to_string_lossy(), &bytes);
            corpus_files += 1;
        }
    }
    // The budget shared out evenly; the same seed gives the same mutants in the same order.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed_2026);
    let per_target = Duration::from_secs_f64(budget / TARGETS.len() as f64);
    for target in TARGETS {
        let valid = seeds(target);
        for (i, v) in valid.iter().enumerate() {
            check(target, &format!("seed{i}"), v);
        }
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed() < per_target && n < 1_000_000 {
            let input = mutate(&mut rng, &valid[n % valid.len()]);
            check(target, &format!("mutant{n}"), &input);
            n += 1;
        }
        println!("{target}: {n} mutants, no panic");
        assert!(n >= 100, "{target}: only {n} mutants in {per_target:?}");
    }
    println!("{corpus_files} corpus file(s), no panic");
}
