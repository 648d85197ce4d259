//! `emunet train`: epochs of GPU training steps on augmented crops, a cosine learning-rate
//! schedule, validation Jaccard on full-size frames after every epoch (at the mask threshold that
//! maximises it, which the checkpoints record), the best epoch kept
//! (`OUT/best.safetensors`), the last one with its optimizer state (`OUT/last.safetensors`,
//! `OUT/state.safetensors`), `OUT/log.csv` and `OUT/curves.png`; every file written atomically.
//!
//! A run is a pure function of its options: epoch e draws its samples from a stream seeded by
//! (seed, e), GPU steps are deterministic, and the state file holds the weights and Adam's moments
//! at an epoch boundary — so `--resume` after a kill ends with the same weights as a run that
//! was never interrupted.

use crate::data::{self, Augment, Generator, Pair, Source};
use crate::simulate::{Preset, SimParams, View, focal_planes};
use emunet::error::{Error, Result};
use emunet::gpu::Context;
use emunet::model::{Model, Normalization, write_atomic};
use emunet::reference::{AdamParams, LossParams};
use emunet::train::{GpuTrainer, Moments};
use emunet::unet::Unet;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Where the training data comes from.
#[derive(Clone, Debug)]
pub enum DataSpec {
    /// `DIR/images` + `DIR/masks`.
    Dir(PathBuf),
    /// Frames drawn on the fly from the simulator.
    Simulate(Preset),
}

/// Every option of a run (the CLI's defaults live in main.rs).
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub out: PathBuf,
    pub data: DataSpec,
    pub depth: usize,
    pub channels: usize,
    pub epochs: usize,
    pub steps: usize,
    pub batch: usize,
    pub crop: usize,
    pub lr: f32,
    pub weight_decay: f32,
    pub pos_weight: f32,
    pub jaccard_weight: f32,
    /// Photometric augmentation (gamma, contrast, brightness, noise, blur) besides crops,
    /// flips and turns. Off suits simulated data, whose labels follow its grey levels.
    pub photometric: bool,
    /// Random flips and quarter turns of each crop (off for labels that are not symmetric).
    pub orient: bool,
    /// Simulated data: the scale (grey levels) of the soft target around the truth contour;
    /// 0 trains on the truth mask itself.
    pub soft_target: f32,
    /// The input rule the model is trained (and later run) with.
    pub normalization: Normalization,
    /// Folder data: a flat-field (`emunet flatfield`) taken out of every frame as it is read.
    pub flatfield: Option<PathBuf>,
    pub seed: u64,
    /// Fraction of the files held out for validation (folder data).
    pub val_fraction: f64,
    /// Full-size frames rendered for validation (simulated data).
    pub val_frames: usize,
    /// Size of the simulated validation frames (default: the preset's, 1280×1024).
    pub val_size: Option<(usize, usize)>,
    /// Start from these weights instead of a He-normal draw (fine-tuning, for example the
    /// shipped model on a station's own frames); their depth, channels and input rule must be
    /// the options'.
    pub init: Option<PathBuf>,
    pub resume: bool,
}

/// One row of `log.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    pub step: u32,
    pub loss: f64,
    pub val_jaccard: f64,
    /// The mask threshold that gave `val_jaccard`.
    pub threshold: f32,
    pub lr: f32,
    pub seconds: f64,
}

const LOG_HEADER: &str = "epoch,step,loss,val_jaccard,threshold,lr,seconds";
const STATE_FORMAT: &str = "emunet-train-state/1";

impl EpochRecord {
    fn csv(&self) -> String {
        format!(
            "{},{},{:.6},{:.6},{},{:.6e},{:.1}",
            self.epoch,
            self.step,
            self.loss,
            self.val_jaccard,
            self.threshold,
            self.lr,
            self.seconds
        )
    }
}

/// Cosine decay from `lr` to 5 % of it over the run.
pub fn learning_rate(lr: f32, step: usize, total: usize) -> f32 {
    let t = step as f64 / total.max(1) as f64;
    (lr as f64 * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))) as f32
}

/// The options that must match for `--resume` (others, like the epoch count, may change).
fn fingerprint(o: &TrainOptions) -> String {
    format!(
        "data={:?} depth={} channels={} steps={} batch={} crop={} lr={} wd={} pos_weight={} jaccard_weight={} photometric={} orient={} soft_target={} normalization={} flatfield={:?} init={:?} seed={}",
        o.data,
        o.depth,
        o.channels,
        o.steps,
        o.batch,
        o.crop,
        o.lr,
        o.weight_decay,
        o.pos_weight,
        o.jaccard_weight,
        o.photometric,
        o.orient,
        o.soft_target,
        o.normalization.name(),
        o.flatfield,
        o.init,
        o.seed
    )
}

/// The validation set: full-size frames with their truth.
fn validation_set(o: &TrainOptions, val_pairs: Vec<Pair>) -> Result<Vec<Pair>> {
    match &o.data {
        DataSpec::Dir(_) => Ok(val_pairs),
        DataSpec::Simulate(preset) => {
            let mut p = SimParams::preset(*preset);
            if let Some((w, h)) = o.val_size {
                (p.width, p.height) = (w, h);
            }
            // Views far from the training stream's (which draws 32-bit view numbers).
            (0..o.val_frames as u64)
                .map(|i| {
                    let view = (1 << 40) + i;
                    let z = focal_planes(&p, o.seed, view, 1)[0];
                    let f = View::new(&p, o.seed, view)?.render(format!("val{i}"), z);
                    Ok(Pair {
                        name: f.name,
                        mask: f.truth.iter().map(|&t| (t != 0) as u8).collect(),
                        frame: f.image,
                    })
                })
                .collect()
        }
    }
}

/// Thresholds tried when calibrating the mask threshold: k / [`THRESHOLD_STEPS`], k = 1..steps−1.
const THRESHOLD_STEPS: usize = 100;

/// The k for which `prob` lies in [k / steps, (k + 1) / steps), with the same f32 comparison
/// `prob >= threshold` that segmentation makes, so a threshold's counts are exact.
fn threshold_bin(prob: f32) -> usize {
    let n = THRESHOLD_STEPS;
    let mut k = ((prob * n as f32).floor().max(0.0) as usize).min(n - 1);
    if k + 1 < n && prob >= (k + 1) as f32 / n as f32 {
        k += 1;
    }
    if k > 0 && prob < k as f32 / n as f32 {
        k -= 1;
    }
    k
}

/// Pooled pixel Jaccard of `model` on the validation frames at the threshold (k / 100) that
/// maximises it: (Jaccard, threshold). The checkpoints record the threshold, so `segment` uses
/// the calibrated one by default.
pub fn validate(ctx: &Arc<Context>, model: &Model, val: &[Pair]) -> Result<(f64, f32)> {
    let mut unet = Unet::new(ctx.clone(), model)?;
    // Histograms of the probability of truth and background pixels.
    let (mut on, mut off) = ([0u64; THRESHOLD_STEPS], [0u64; THRESHOLD_STEPS]);
    for p in val {
        let seg = unet.segment(&p.frame)?;
        for (&prob, &t) in seg.prob.iter().zip(&p.mask) {
            let k = threshold_bin(prob);
            if t != 0 { on[k] += 1 } else { off[k] += 1 }
        }
    }
    let truth: u64 = on.iter().sum();
    let (mut best, mut best_k) = (f64::MIN, THRESHOLD_STEPS / 2);
    for k in 1..THRESHOLD_STEPS {
        // Predicted on: probability ≥ k / steps.
        let tp: u64 = on[k..].iter().sum();
        let fp: u64 = off[k..].iter().sum();
        let union = truth + fp;
        let j = if union == 0 {
            1.0
        } else {
            tp as f64 / union as f64
        };
        if j > best {
            (best, best_k) = (j, k);
        }
    }
    Ok((best, best_k as f32 / THRESHOLD_STEPS as f32))
}

/// Writes the state file: weights (file layout), Adam's moments (packed), progress metadata.
fn save_state(
    path: &Path,
    model: &Model,
    moments: &Moments,
    meta: BTreeMap<String, String>,
) -> Result<()> {
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, (shape, values)) in &model.tensors {
        owned.push((
            name.clone(),
            shape.clone(),
            bytemuck::cast_slice(values).to_vec(),
        ));
    }
    for (name, m, v) in moments {
        owned.push((
            format!("{name}.adam_m"),
            vec![m.len()],
            bytemuck::cast_slice(m).to_vec(),
        ));
        owned.push((
            format!("{name}.adam_v"),
            vec![v.len()],
            bytemuck::cast_slice(v).to_vec(),
        ));
    }
    let views = owned
        .iter()
        .map(|(n, s, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Model(e.to_string()))?;
    let meta: HashMap<String, String> = meta.into_iter().collect();
    write_atomic(path, &emunet::model::serialize_sorted(views, meta)?)
}

/// Reads a state file back: (model, moments, metadata).
fn load_state(path: &Path, template: &Model) -> Result<(Model, Moments, BTreeMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: String| Error::Weights {
        path: path.to_path_buf(),
        message: m,
    };
    let (_, header) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let file = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let meta: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    if meta.get("format").map(String::as_str) != Some(STATE_FORMAT) {
        return Err(bad(format!(
            "not a training state (format {STATE_FORMAT} expected)"
        )));
    }
    let floats = |name: &str| -> Result<Vec<f32>> {
        let t = file
            .tensor(name)
            .map_err(|_| bad(format!("missing tensor `{name}`")))?;
        Ok(t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    let mut model = template.clone();
    let names: Vec<String> = model.tensors.keys().cloned().collect();
    let mut moments = Vec::new();
    for name in names {
        let values = floats(&name)?;
        if values.len() != model.tensor(&name).len() {
            return Err(bad(format!("tensor `{name}` has the wrong size")));
        }
        *model.tensor_mut(&name) = values;
        moments.push((
            name.clone(),
            floats(&format!("{name}.adam_m"))?,
            floats(&format!("{name}.adam_v"))?,
        ));
    }
    Ok((model, moments, meta))
}

/// What a run reports after each step and epoch (the CLI draws a progress bar from it).
pub trait Progress {
    fn step(&mut self, epoch: usize, step: usize, loss: f32, samples_per_second: f64);
    /// Called after each epoch's files are written; returning false stops the run there (as a
    /// kill would, but cleanly).
    fn epoch(&mut self, record: &EpochRecord, best: bool) -> bool;
    /// A file of the training folder that is not used (unmatched, unreadable, a mask of another
    /// size, not binary or empty), with the reason; called before training starts.
    fn skipped(&mut self, problem: &str) {
        eprintln!("warning: skipped {problem}");
    }
}

/// The weights of `--init`, checked against the options they will be trained with.
fn initial_weights(path: &Path, o: &TrainOptions) -> Result<Model> {
    let mut model = Model::load(path)?;
    if model.depth != o.depth
        || model.channels != o.channels
        || model.normalization() != o.normalization
    {
        return Err(Error::Shape(format!(
            "--init {}: the file holds a UNet({}, {}) with the `{}` input rule; train it with \
             --depth {} --channels {} --normalization {} (the options ask for UNet({}, {}), `{}`)",
            path.display(),
            model.depth,
            model.channels,
            model.normalization().name(),
            model.depth,
            model.channels,
            model.normalization().name(),
            o.depth,
            o.channels,
            o.normalization.name()
        )));
    }
    model
        .metadata
        .insert("init".into(), format!("weights of {}", path.display()));
    Ok(model)
}

/// Runs (or resumes) training; returns the log.
pub fn run(
    ctx: Arc<Context>,
    o: &TrainOptions,
    progress: &mut dyn Progress,
) -> Result<Vec<EpochRecord>> {
    std::fs::create_dir_all(&o.out).map_err(|e| Error::io(&o.out, e))?;
    if o.resume {
        emunet::model::remove_stale_temporaries(&o.out);
    }
    let (train_pairs, val_pairs) = match &o.data {
        DataSpec::Dir(dir) => {
            let (mut pairs, problems) = data::load_pairs(dir)?;
            for p in problems {
                progress.skipped(&p);
            }
            if let Some(path) = &o.flatfield {
                let flat = emunet::flatfield::FlatField::load(path)?;
                for p in &mut pairs {
                    p.frame = flat
                        .apply(&p.frame)
                        .map_err(|e| Error::Shape(format!("{}: {e}", p.name)))?;
                }
            }
            if pairs.len() < 2 {
                return Err(Error::Shape(format!(
                    "{} holds {} usable frame/mask pair(s); training needs at least 2 (one for validation)",
                    dir.display(),
                    pairs.len()
                )));
            }
            data::split(pairs, o.val_fraction, o.seed)
        }
        DataSpec::Simulate(_) => (Vec::new(), Vec::new()),
    };
    let val = validation_set(o, val_pairs)?;
    let source = match &o.data {
        DataSpec::Dir(_) => Source::Pairs(train_pairs),
        DataSpec::Simulate(preset) => Source::Simulate {
            params: Box::new(SimParams::preset(*preset)),
            seed: o.seed,
            size: (o.crop * 3 / 2).max(o.crop + 16),
            soft_target: o.soft_target as f64,
        },
    };
    let generator = Generator {
        source,
        augment: Augment {
            normalization: o.normalization,
            orient: o.orient,
            ..if o.photometric {
                Augment::new(o.crop)
            } else {
                Augment::geometric(o.crop)
            }
        },
    };
    let loss = LossParams {
        pos_weight: o.pos_weight,
        jaccard_weight: o.jaccard_weight,
    };
    let adam = AdamParams {
        lr: o.lr,
        weight_decay: o.weight_decay,
        ..Default::default()
    };

    let mut model = match &o.init {
        Some(path) => initial_weights(path, o)?,
        None => Model::init_he(o.depth, o.channels, o.seed)?,
    };
    model.set_normalization(o.normalization);
    model
        .metadata
        .insert("data".into(), format!("{:?}", o.data));
    let state_path = o.out.join("state.safetensors");
    let (mut first_epoch, mut records, mut best) = (0, Vec::new(), (0usize, -1.0f64));
    let mut restored = None;
    if o.resume && state_path.exists() {
        let (m, moments, meta) = load_state(&state_path, &model)?;
        if meta.get("options").map(String::as_str) != Some(fingerprint(o).as_str()) {
            return Err(Error::Shape(format!(
                "--resume: {} was written with other options ({}); use the same ones",
                state_path.display(),
                meta.get("options").map_or("?", |s| s.as_str())
            )));
        }
        let num = |k: &str| {
            meta.get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        first_epoch = num("epoch") as usize;
        best = (num("best_epoch") as usize, num("best_val_jaccard"));
        records = meta
            .get("log")
            .map(|log| log.lines().skip(1).filter_map(parse_record).collect())
            .unwrap_or_default();
        model = m;
        restored = Some((moments, num("step") as u32));
        eprintln!(
            "resuming after epoch {first_epoch} (best so far: epoch {}, val Jaccard {:.4})",
            best.0, best.1
        );
    } else if o.resume {
        eprintln!("--resume: no {} yet, starting afresh", state_path.display());
    }
    let mut trainer = GpuTrainer::new(ctx.clone(), &model, o.batch, o.crop, o.crop, loss, adam)?;
    if let Some((moments, step)) = restored {
        trainer.restore(&moments, step)?;
    }
    let total = o.epochs * o.steps;
    for epoch in first_epoch..o.epochs {
        let start = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
        rng.set_stream(epoch as u64 + 1);
        // A second thread draws the next batches while the GPU runs this one. It draws the
        // same batches, in the same order, as drawing them here would.
        let (sum, lr) = std::thread::scope(|scope| -> Result<(f64, f32)> {
            let (tx, rx) = std::sync::mpsc::sync_channel(2);
            let generator = &generator;
            scope.spawn(move || {
                for _ in 0..o.steps {
                    let batch = generator.batch(&mut rng, o.batch);
                    let failed = batch.is_err();
                    if tx.send(batch).is_err() || failed {
                        break;
                    }
                }
            });
            let (mut sum, mut lr) = (0.0f64, o.lr);
            for s in 0..o.steps {
                let (x, t) = rx
                    .recv()
                    .map_err(|_| Error::Shape("the training-data thread stopped".into()))??;
                lr = learning_rate(o.lr, epoch * o.steps + s, total);
                trainer.set_lr(lr);
                let l = trainer.step(&x, &t)?;
                if !l.is_finite() {
                    return Err(Error::Shape(format!(
                        "the loss became {l} at epoch {} step {}; lower --lr",
                        epoch + 1,
                        s + 1
                    )));
                }
                sum += l as f64;
                let rate = ((s + 1) * o.batch) as f64 / start.elapsed().as_secs_f64();
                progress.step(epoch, s, l, rate);
            }
            Ok((sum, lr))
        })?;
        let mut model = trainer.model()?;
        let (val_jaccard, threshold) = validate(&ctx, &model, &val)?;
        model.set_threshold(threshold)?;
        let record = EpochRecord {
            epoch: epoch + 1,
            step: trainer.step,
            loss: sum / o.steps as f64,
            val_jaccard,
            threshold,
            lr,
            seconds: start.elapsed().as_secs_f64(),
        };
        records.push(record.clone());
        let is_best = val_jaccard > best.1;
        if is_best {
            best = (epoch + 1, val_jaccard);
            let mut b = model.clone();
            b.metadata.insert("epochs".into(), (epoch + 1).to_string());
            b.metadata
                .insert("best_epoch".into(), (epoch + 1).to_string());
            b.metadata
                .insert("val_jaccard".into(), format!("{val_jaccard:.6}"));
            b.save(&o.out.join("best.safetensors"))?;
        }
        let log = std::iter::once(LOG_HEADER.to_string())
            .chain(records.iter().map(EpochRecord::csv))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        let mut meta = BTreeMap::new();
        meta.insert("format".to_string(), STATE_FORMAT.to_string());
        meta.insert("options".into(), fingerprint(o));
        meta.insert("epoch".into(), (epoch + 1).to_string());
        meta.insert("step".into(), trainer.step.to_string());
        meta.insert("best_epoch".into(), best.0.to_string());
        meta.insert("best_val_jaccard".into(), best.1.to_string());
        meta.insert("log".into(), log.clone());
        // The state first: a kill between the two writes leaves a consistent state to resume.
        save_state(&state_path, &model, &trainer.moments()?, meta)?;
        let mut last = model;
        last.metadata
            .insert("epochs".into(), (epoch + 1).to_string());
        last.metadata
            .insert("best_epoch".into(), best.0.to_string());
        last.metadata
            .insert("val_jaccard".into(), format!("{val_jaccard:.6}"));
        last.save(&o.out.join("last.safetensors"))?;
        write_atomic(&o.out.join("log.csv"), log.as_bytes())?;
        crate::curves::draw_curves(&records, &o.out.join("curves.png"))?;
        if !progress.epoch(&record, is_best) {
            break;
        }
    }
    Ok(records)
}

fn parse_record(line: &str) -> Option<EpochRecord> {
    let f: Vec<&str> = line.split(',').collect();
    Some(EpochRecord {
        epoch: f.first()?.parse().ok()?,
        step: f.get(1)?.parse().ok()?,
        loss: f.get(2)?.parse().ok()?,
        val_jaccard: f.get(3)?.parse().ok()?,
        threshold: f.get(4)?.parse().ok()?,
        lr: f.get(5)?.parse().ok()?,
        seconds: f.get(6)?.parse().ok()?,
    })
}
