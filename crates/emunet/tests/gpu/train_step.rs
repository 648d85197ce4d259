//! A whole training step on the GPU (forward, loss, backward, Adam) against the CPU reference:
//! weights after 3 Adam steps agree tensor by tensor; two identical runs give identical bits.

use crate::common::*;
use emunet::Model;
use emunet::reference::{self, AdamParams, LossParams};
use emunet::train::GpuTrainer;
use rand::RngExt;
use std::collections::BTreeMap;

fn setup(
    depth: usize,
    channels: usize,
    seed: u64,
    n: usize,
    h: usize,
    w: usize,
) -> (Model, Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut model = Model::init_he(depth, channels, seed).unwrap();
    let mut g = rng(seed + 7);
    for (name, (_, values)) in model.tensors.iter_mut() {
        if name.ends_with(".bias") {
            for v in values.iter_mut() {
                *v = g.random_range(0.0..0.2);
            }
        }
    }
    let xs = (0..3).map(|_| random_vec(&mut g, n * h * w)).collect();
    let ts = (0..3)
        .map(|_| {
            (0..n * h * w)
                .map(|_| if g.random_bool(0.15) { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    (model, xs, ts)
}

fn check(depth: usize, channels: usize, n: usize, h: usize, w: usize, loss: LossParams) {
    let (model, xs, ts) = setup(depth, channels, 40 + depth as u64, n, h, w);
    let adam = AdamParams {
        lr: 1e-3,
        weight_decay: 1e-4,
        ..Default::default()
    };
    // CPU reference: three steps.
    let mut cpu = model.clone();
    let mut moments: BTreeMap<String, (Vec<f32>, Vec<f32>)> = BTreeMap::new();
    let mut cpu_losses = Vec::new();
    for step in 1..=3u32 {
        let x = reference::Tensor::from_vec(n, 1, h, w, xs[step as usize - 1].clone());
        let acts = reference::unet_train_forward(&cpu, &x);
        let (value, grads) = reference::unet_grad(&cpu, &acts, &ts[step as usize - 1], loss);
        cpu_losses.push(value);
        for (name, g) in grads {
            let (m, v) = moments
                .entry(name.clone())
                .or_insert_with(|| (vec![0.0; g.len()], vec![0.0; g.len()]));
            reference::adam(cpu.tensor_mut(&name), &g, m, v, step, adam);
        }
    }
    // GPU: the same three steps.
    let run = || {
        let mut t = GpuTrainer::new(ctx(), &model, n, h, w, loss, adam).unwrap();
        let losses: Vec<f32> = (0..3).map(|i| t.step(&xs[i], &ts[i]).unwrap()).collect();
        (losses, t.model().unwrap())
    };
    let (gpu_losses, gpu) = run();
    for (i, (c, g)) in cpu_losses.iter().zip(&gpu_losses).enumerate() {
        assert!(
            (c - *g as f64).abs() <= 1e-4 * c.abs(),
            "step {} loss: CPU {c} GPU {g}",
            i + 1
        );
    }
    for (name, (_, values)) in &cpu.tensors {
        assert_close(
            &format!("UNet({depth},{channels}) {name} after 3 steps"),
            values,
            gpu.tensor(name),
        );
    }
    let (again_losses, again) = run();
    assert_eq!(
        gpu_losses, again_losses,
        "losses differ between identical runs"
    );
    assert!(
        gpu.tensors == again.tensors,
        "weights differ between identical runs"
    );
    println!(
        "UNet({depth},{channels}) batch {n}×{h}×{w}: losses {gpu_losses:?}; identical on rerun"
    );
}

#[test]
fn unet_2_4_three_adam_steps() {
    check(
        2,
        4,
        2,
        12,
        16,
        LossParams {
            pos_weight: 3.0,
            jaccard_weight: 0.0,
        },
    );
}

#[test]
fn unet_1_3_with_soft_jaccard() {
    check(
        1,
        3,
        3,
        6,
        10,
        LossParams {
            pos_weight: 1.0,
            jaccard_weight: 0.5,
        },
    );
}

#[test]
fn unet_3_8_batch_of_two() {
    check(
        3,
        8,
        2,
        16,
        24,
        LossParams {
            pos_weight: 5.0,
            jaccard_weight: 0.2,
        },
    );
}

#[test]
fn bad_batch_shapes_are_refused() {
    let model = Model::init_he(2, 4, 1).unwrap();
    let (l, a) = (
        LossParams {
            pos_weight: 1.0,
            jaccard_weight: 0.0,
        },
        AdamParams::default(),
    );
    assert!(
        GpuTrainer::new(ctx(), &model, 2, 10, 16, l, a).is_err(),
        "10 is not a multiple of 4"
    );
    let mut t = GpuTrainer::new(ctx(), &model, 1, 8, 8, l, a).unwrap();
    assert!(t.step(&[0.0; 10], &[0.0; 64]).is_err());
}
