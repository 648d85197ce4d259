//! Training end to end on the GPU: a small UNet learns simulated frames (the loss falls and the
//! validation Jaccard clears a bar far above the trivial predictor); a resumed run ends with the
//! same weights as an uninterrupted one; a killed CLI run resumes without losing anything.

use crate::common::ctx;
use emunet::{Model, Unet};
use emunet_tools::data::Pair;
use emunet_tools::simulate::Preset;
use emunet_tools::simulate::{SimParams, View};
use emunet_tools::trainer::{self, DataSpec, EpochRecord, Progress, TrainOptions};
use std::path::Path;

struct StopAfter(Option<usize>);

impl Progress for StopAfter {
    fn step(&mut self, _: usize, _: usize, _: f32, _: f64) {}
    fn epoch(&mut self, r: &EpochRecord, _: bool) -> bool {
        println!(
            "epoch {} loss {:.4} val Jaccard {:.4}",
            r.epoch, r.loss, r.val_jaccard
        );
        self.0.is_none_or(|n| r.epoch < n)
    }
}

fn options(
    out: &Path,
    depth: usize,
    channels: usize,
    epochs: usize,
    steps: usize,
    batch: usize,
    crop: usize,
) -> TrainOptions {
    TrainOptions {
        out: out.to_path_buf(),
        data: DataSpec::Simulate(Preset::Nominal),
        depth,
        channels,
        epochs,
        steps,
        batch,
        crop,
        lr: 3e-3,
        weight_decay: 1e-4,
        pos_weight: 3.0,
        jaccard_weight: 0.5,
        photometric: false,
        orient: true,
        soft_target: 0.0,
        normalization: emunet::model::DEFAULT_NORMALIZATION,
        flatfield: None,
        seed: 3,
        val_fraction: 0.1,
        val_frames: 2,
        val_size: Some((256, 192)),
        init: None,
        resume: false,
    }
}

#[test]
fn unet_2_8_learns_simulated_frames() {
    let dir = tempfile::tempdir().unwrap();
    let o = options(dir.path(), 2, 8, 4, 40, 4, 64);
    let records = trainer::run(ctx(), &o, &mut StopAfter(None)).unwrap();
    assert_eq!(records.len(), 4);
    assert!(
        records[3].loss < 0.7 * records[0].loss,
        "loss did not fall: {records:?}"
    );
    // All-background scores 0; all-foreground ~0.012 (clusters are ~1.2 % of pixels).
    let best = records.iter().map(|r| r.val_jaccard).fold(0.0, f64::max);
    assert!(
        best >= 0.3,
        "validation Jaccard {best} is not far above the trivial predictor"
    );
    for f in [
        "best.safetensors",
        "last.safetensors",
        "state.safetensors",
        "log.csv",
        "curves.png",
    ] {
        assert!(dir.path().join(f).exists(), "{f} missing");
    }
    let b = Model::load(&dir.path().join("best.safetensors")).unwrap();
    assert!(b.metadata.contains_key("val_jaccard") && b.metadata.contains_key("best_epoch"));
    // The checkpoint carries the calibrated threshold of its epoch.
    let best_record = records
        .iter()
        .max_by(|a, b| a.val_jaccard.total_cmp(&b.val_jaccard))
        .unwrap();
    assert_eq!(b.threshold, best_record.threshold);
    let log = std::fs::read_to_string(dir.path().join("log.csv")).unwrap();
    assert_eq!(log.lines().count(), 5);
}

#[test]
fn validation_reports_the_best_threshold_and_its_exact_jaccard() {
    // A small untrained model gives probabilities spread over (0, 1).
    let model = Model::init_he(2, 4, 11).unwrap();
    let mut p = SimParams::preset(Preset::Nominal);
    (p.width, p.height) = (96, 80);
    let val: Vec<Pair> = (0..2)
        .map(|v| {
            let f = View::new(&p, 5, v).unwrap().render(format!("v{v}"), 20.0);
            Pair {
                name: f.name,
                frame: f.image,
                mask: f.truth,
            }
        })
        .collect();
    let (jaccard, threshold) = trainer::validate(&ctx(), &model, &val).unwrap();
    // Recount directly, with segmentation's own comparison, at every threshold of the grid.
    let mut unet = Unet::new(ctx(), &model).unwrap();
    let probs: Vec<Vec<f32>> = val
        .iter()
        .map(|p| unet.segment(&p.frame).unwrap().prob)
        .collect();
    let at = |thr: f32| {
        let (mut i, mut u) = (0u64, 0u64);
        for (prob, pair) in probs.iter().zip(&val) {
            for (&q, &t) in prob.iter().zip(&pair.mask) {
                i += (q >= thr && t != 0) as u64;
                u += (q >= thr || t != 0) as u64;
            }
        }
        i as f64 / u as f64
    };
    assert_eq!(
        jaccard,
        at(threshold),
        "reported Jaccard is not the one at its threshold"
    );
    for k in 1..100 {
        let thr = k as f32 / 100.0;
        assert!(
            at(thr) <= jaccard,
            "threshold {thr} scores {} > {jaccard}",
            at(thr)
        );
    }
}

#[test]
fn resume_ends_with_the_weights_of_an_uninterrupted_run() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let straight = options(a.path(), 1, 4, 3, 4, 2, 32);
    trainer::run(ctx(), &straight, &mut StopAfter(None)).unwrap();
    let mut broken = options(b.path(), 1, 4, 3, 4, 2, 32);
    trainer::run(ctx(), &broken, &mut StopAfter(Some(1))).unwrap();
    broken.resume = true;
    let records = trainer::run(ctx(), &broken, &mut StopAfter(None)).unwrap();
    assert_eq!(
        records.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let wa = Model::load(&a.path().join("last.safetensors")).unwrap();
    let wb = Model::load(&b.path().join("last.safetensors")).unwrap();
    assert!(
        wa.tensors == wb.tensors,
        "resumed weights differ from the uninterrupted run's"
    );
    assert_eq!(
        std::fs::read_to_string(a.path().join("log.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect::<Vec<_>>(),
        std::fs::read_to_string(b.path().join("log.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect::<Vec<_>>(),
        "the logs (less the timings) differ"
    );
    // Other options are refused on resume.
    let mut other = broken.clone();
    other.lr = 1e-2;
    assert!(trainer::run(ctx(), &other, &mut StopAfter(None)).is_err());
}

#[test]
fn init_starts_from_the_given_weights_and_refuses_other_shapes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    trainer::run(
        ctx(),
        &options(a.path(), 1, 4, 1, 4, 2, 32),
        &mut StopAfter(None),
    )
    .unwrap();
    let start = a.path().join("last.safetensors");
    // At learning rate 0 (weight decay is scaled by it too) no step moves a weight, so the
    // run ends exactly where --init put it; a fresh He-normal draw would not.
    let mut fine = options(b.path(), 1, 4, 1, 3, 2, 32);
    fine.init = Some(start.clone());
    fine.lr = 0.0;
    trainer::run(ctx(), &fine, &mut StopAfter(None)).unwrap();
    let from = Model::load(&start).unwrap();
    let ended = Model::load(&b.path().join("last.safetensors")).unwrap();
    assert!(
        ended.tensors == from.tensors,
        "the run did not start from --init"
    );
    let fresh = Model::init_he(1, 4, fine.seed).unwrap();
    assert!(fresh.tensors != from.tensors);
    // Weights of another shape are refused with the options that would take them.
    let mut other = options(b.path(), 2, 4, 1, 3, 2, 32);
    other.init = Some(start);
    let message = trainer::run(ctx(), &other, &mut StopAfter(None))
        .unwrap_err()
        .to_string();
    assert!(message.contains("--depth 1 --channels 4"), "{message}");
}
