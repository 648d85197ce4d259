//! Training data: frame/mask pairs from `DIR/images` and `DIR/masks` (matched by stem), or frames
//! drawn on the fly from the simulator; and the augmenting generator that turns them into
//! normalised crops — random crops, flips, 90° rotations, gamma/contrast/brightness jitter,
//! noise and slight blur — with their 0/1 targets.
//!
//! Inputs are normalised as at inference (the model's rule, [`Normalization`]) with the statistics
//! of the whole (augmented) frame, so a crop sees what the same pixels would see in a full-frame
//! pass.

use crate::simulate::{SimParams, View};
use emunet::error::{Error, Result};
use emunet::frame::Frame;
use emunet::model::{DEFAULT_NORMALIZATION, Normalization};
use emunet::reference::sigmoid;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// A frame with its truth mask (0 / non-zero).
#[derive(Clone)]
pub struct Pair {
    pub name: String,
    pub frame: Frame,
    pub mask: Vec<u8>,
}

/// Reads every `images/<stem>.{png,tif,tiff}` that has a `masks/<stem>.*` of the same size.
/// Unmatched or unreadable files are reported in the second list and skipped, never used.
pub fn load_pairs(dir: &Path) -> Result<(Vec<Pair>, Vec<String>)> {
    let list = |sub: &str| -> Result<Vec<PathBuf>> {
        let d = dir.join(sub);
        let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(|e| Error::io(&d, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    matches!(e.to_ascii_lowercase().as_str(), "png" | "tif" | "tiff")
                })
            })
            .collect();
        v.sort();
        Ok(v)
    };
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let (images, masks) = (list("images")?, list("masks")?);
    let mut pairs = Vec::new();
    let mut problems = Vec::new();
    for image in &images {
        let name = stem(image);
        let Some(mask_path) = masks.iter().find(|m| stem(m) == name) else {
            problems.push(format!(
                "{}: no mask with the same name in masks/",
                image.display()
            ));
            continue;
        };
        let loaded = Frame::load(image).and_then(|(frame, _)| {
            let (mask, _) = Frame::load(mask_path)?;
            if (mask.width, mask.height) != (frame.width, frame.height) {
                return Err(Error::Shape(format!(
                    "{}: mask is {}×{}, frame {}×{}",
                    mask_path.display(),
                    mask.width,
                    mask.height,
                    frame.width,
                    frame.height
                )));
            }
            check_mask(&mask).map_err(|problem| Error::Frame {
                path: mask_path.clone(),
                message: problem,
            })?;
            let bits = (0..mask.len())
                .map(|i| (mask.value(i) != 0) as u8)
                .collect();
            Ok((frame, bits))
        });
        match loaded {
            Ok((frame, mask)) => pairs.push(Pair { name, frame, mask }),
            Err(e) => problems.push(e.to_string()),
        }
    }
    for m in &masks {
        if !images.iter().any(|i| stem(i) == stem(m)) {
            problems.push(format!(
                "{}: no image with the same name in images/",
                m.display()
            ));
        }
    }
    Ok((pairs, problems))
}

/// A truth mask must be binary — 0 and the format's maximum (255, 65535), or 0 and 1 — and
/// not empty: every emulsion frame holds grains, so an empty mask is a labelling mistake, and a
/// grey level would be read as "grain" without anyone deciding so.
fn check_mask(mask: &Frame) -> std::result::Result<(), String> {
    let max = mask.max_value();
    let mut on = 0usize;
    let mut ones = false;
    for i in 0..mask.len() {
        match mask.value(i) {
            0 => {}
            1 => ones = true,
            v if v == max => on += 1,
            v => {
                return Err(format!(
                    "the mask holds the value {v} at pixel ({}, {}): a truth mask must be binary \
                     (0 and {max}, or 0 and 1)",
                    i % mask.width,
                    i / mask.width
                ));
            }
        }
    }
    if ones && on > 0 {
        return Err(format!(
            "the mask mixes 1 and {max} for grain pixels: a truth mask must be binary"
        ));
    }
    if !ones && on == 0 {
        return Err("the mask is empty (no grain pixel): a labelling mistake?".into());
    }
    Ok(())
}

/// Splits pairs into (train, validation) by file, reproducibly from `seed`: a fraction of the
/// files (at least one when there are two or more) goes to validation.
pub fn split(mut pairs: Vec<Pair>, fraction: f64, seed: u64) -> (Vec<Pair>, Vec<Pair>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5911_7000);
    // Fisher–Yates with our own stream, so the split does not depend on a library's shuffle.
    for i in (1..pairs.len()).rev() {
        let j = rng.random_range(0..=i);
        pairs.swap(i, j);
    }
    let n_val = if pairs.len() >= 2 {
        ((pairs.len() as f64 * fraction).round() as usize).clamp(1, pairs.len() - 1)
    } else {
        0
    };
    let val = pairs.split_off(pairs.len() - n_val);
    (pairs, val)
}

/// Where training samples come from.
pub enum Source {
    Pairs(Vec<Pair>),
    /// Frames rendered on the fly (each sample a fresh view) at `size × size`.
    Simulate {
        params: Box<SimParams>,
        seed: u64,
        size: usize,
        /// 0: the truth mask as the target. s > 0: the soft target
        /// `sigmoid((darkness − truth threshold) / s)`, which also tells the network how far
        /// (in grey levels) a pixel lies from the truth contour; its 0.5 level is the mask.
        soft_target: f64,
    },
}

/// The per-pixel targets of a frame: a 0/non-zero mask, or probabilities in [0, 1].
#[derive(Clone, Copy)]
pub enum Targets<'a> {
    Mask(&'a [u8]),
    Prob(&'a [f32]),
}

impl Targets<'_> {
    fn at(&self, i: usize) -> f32 {
        match self {
            Targets::Mask(m) => (m[i] != 0) as u8 as f32,
            Targets::Prob(p) => p[i],
        }
    }
}

/// Augmentation ranges.
#[derive(Clone, Copy, Debug)]
pub struct Augment {
    pub crop: usize,
    pub gamma: (f64, f64),
    pub contrast: (f64, f64),
    pub brightness: f64,
    /// Upper bound of the added noise σ, in units of the [0, 1] pixel scale.
    pub noise: f64,
    pub blur_probability: f64,
    /// The input rule, as the model being trained applies it at inference.
    pub normalization: Normalization,
    /// Random flips and quarter turns.
    pub orient: bool,
}

impl Augment {
    pub fn new(crop: usize) -> Self {
        Augment {
            crop,
            gamma: (0.8, 1.25),
            contrast: (0.8, 1.2),
            brightness: 0.05,
            noise: 0.01,
            blur_probability: 0.3,
            normalization: DEFAULT_NORMALIZATION,
            orient: true,
        }
    }

    /// Crops, flips and quarter turns only. Simulated frames already span the real
    /// photometric range, and their truth is tied to the rendered grey levels (own darkness
    /// ≥ 20): gamma, contrast, noise or blur jitter would move pixels across that contour
    /// without moving the label.
    pub fn geometric(crop: usize) -> Self {
        Augment {
            crop,
            gamma: (1.0, 1.0),
            contrast: (1.0, 1.0),
            brightness: 0.0,
            noise: 0.0,
            blur_probability: 0.0,
            normalization: DEFAULT_NORMALIZATION,
            orient: true,
        }
    }
}

/// Draws augmented, normalised training crops.
pub struct Generator {
    pub source: Source,
    pub augment: Augment,
}

/// One sample: the normalised crop and its 0/1 target, `crop × crop`.
pub struct Sample {
    pub x: Vec<f32>,
    pub t: Vec<f32>,
}

impl Generator {
    /// A batch of `n` samples drawn with `rng`: inputs and targets, `[n][crop][crop]`.
    pub fn batch(&self, rng: &mut ChaCha8Rng, n: usize) -> Result<(Vec<f32>, Vec<f32>)> {
        let (mut xs, mut ts) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let s = self.sample(rng)?;
            xs.extend(s.x);
            ts.extend(s.t);
        }
        Ok((xs, ts))
    }

    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Result<Sample> {
        match &self.source {
            Source::Pairs(pairs) => {
                if pairs.is_empty() {
                    return Err(Error::Shape("no training pairs".into()));
                }
                let p = &pairs[rng.random_range(0..pairs.len())];
                augment_pair(&p.frame, Targets::Mask(&p.mask), &self.augment, rng)
            }
            Source::Simulate {
                params,
                seed,
                size,
                soft_target,
            } => {
                let mut p = (**params).clone();
                p.width = *size;
                p.height = *size;
                let view = rng.random::<u32>() as u64;
                let z = rng.random_range(4.0..p.layer_um - 4.0);
                let f = View::new(&p, *seed, view)?.render(String::new(), z);
                if *soft_target > 0.0 {
                    let (thr, s) = (p.truth_threshold, *soft_target);
                    let prob: Vec<f32> = f
                        .darkness
                        .iter()
                        .map(|&d| sigmoid((d as f64 - thr) / s) as f32)
                        .collect();
                    augment_pair(&f.image, Targets::Prob(&prob), &self.augment, rng)
                } else {
                    augment_pair(&f.image, Targets::Mask(&f.truth), &self.augment, rng)
                }
            }
        }
    }
}

/// Crops, jitters, normalises and rotates/flips one frame and its targets.
pub fn augment_pair(
    frame: &Frame,
    targets: Targets,
    a: &Augment,
    rng: &mut impl Rng,
) -> Result<Sample> {
    let (w, h, c) = (frame.width, frame.height, a.crop);
    if w < c || h < c {
        return Err(Error::Shape(format!(
            "a {w}×{h} frame is smaller than the {c}×{c} crop"
        )));
    }
    let (x0, y0) = (rng.random_range(0..=w - c), rng.random_range(0..=h - c));
    let gamma = rng.random_range(a.gamma.0..=a.gamma.1);
    let contrast = rng.random_range(a.contrast.0..=a.contrast.1);
    let brightness = rng.random_range(-a.brightness..=a.brightness);
    let noise = rng.random_range(0.0..=a.noise);
    let blur = rng.random::<f64>() < a.blur_probability;
    let max = frame.max_value() as f64;
    let jitter = |v: u32| ((v as f64 / max).powf(gamma) - 0.5) * contrast + 0.5 + brightness;
    // Whole-frame statistics of the jittered values, from the frame's histogram (exact and cheap).
    let mut hist = vec![0u64; frame.max_value() as usize + 1];
    for i in 0..frame.len() {
        hist[frame.value(i) as usize] += 1;
    }
    let n = frame.len() as f64;
    let mean = hist
        .iter()
        .enumerate()
        .map(|(v, &k)| k as f64 * jitter(v as u32))
        .sum::<f64>()
        / n;
    let var = hist
        .iter()
        .enumerate()
        .map(|(v, &k)| k as f64 * (jitter(v as u32) - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = (var + noise * noise).sqrt();
    // The jitter is monotonic, so the jittered frame's median is the jittered median value.
    let rank = (frame.len() as u64 - 1) / 2;
    let mut below = 0;
    let median_value = hist
        .iter()
        .position(|&k| {
            below += k;
            below > rank
        })
        .unwrap_or(0);
    let median = jitter(median_value as u32);
    let mut x: Vec<f64> = Vec::with_capacity(c * c);
    for yy in 0..c {
        for xx in 0..c {
            let v = jitter(frame.value((y0 + yy) * w + x0 + xx));
            if noise == 0.0 {
                x.push(v);
                continue;
            }
            let z: f64 = {
                let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
                let u2: f64 = rng.random();
                (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
            };
            x.push(v + noise * z);
        }
    }
    if blur {
        x = blur3(&x, c);
    }
    let mut xs: Vec<f32> = x
        .iter()
        .map(|&v| a.normalization.apply(v, mean, std, median) as f32)
        .collect();
    let mut ts: Vec<f32> = (0..c * c)
        .map(|i| targets.at((y0 + i / c) * w + x0 + i % c))
        .collect();
    // The same flips and quarter turns for input and target (drawn either way, so the random
    // stream does not depend on the option).
    let (flip_x, flip_y, turns) = (
        rng.random::<bool>(),
        rng.random::<bool>(),
        rng.random_range(0..4u32),
    );
    if a.orient {
        for v in [&mut xs, &mut ts] {
            *v = orient(v, c, flip_x, flip_y, turns);
        }
    }
    Ok(Sample { x: xs, t: ts })
}

/// A [1 2 1]/4 separable blur with edge clamping.
fn blur3(x: &[f64], c: usize) -> Vec<f64> {
    let pass = |src: &[f64], horizontal: bool| -> Vec<f64> {
        (0..c * c)
            .map(|i| {
                let (px, py) = (i % c, i / c);
                let at = |d: isize| {
                    let (qx, qy) = if horizontal {
                        ((px as isize + d).clamp(0, c as isize - 1) as usize, py)
                    } else {
                        (px, (py as isize + d).clamp(0, c as isize - 1) as usize)
                    };
                    src[qy * c + qx]
                };
                0.25 * at(-1) + 0.5 * at(0) + 0.25 * at(1)
            })
            .collect()
    };
    pass(&pass(x, true), false)
}

/// Flips (x, then y) and rotates a square `c × c` image by `turns` quarter turns.
pub fn orient(v: &[f32], c: usize, flip_x: bool, flip_y: bool, turns: u32) -> Vec<f32> {
    (0..c * c)
        .map(|i| {
            let (mut x, mut y) = (i % c, i / c);
            for _ in 0..turns {
                (x, y) = (y, c - 1 - x);
            }
            if flip_y {
                y = c - 1 - y;
            }
            if flip_x {
                x = c - 1 - x;
            }
            v[y * c + x]
        })
        .collect()
}
