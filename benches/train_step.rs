//! One training step (forward, loss, backward, Adam) for a batch of 8 × 256 × 256 at UNet(3,16)
//! (and UNet(2,8), the CI model): time and GFLOP/s ("elem/s"), counting a step as 3× the
//! forward FLOPs as benches/peers does.

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use emunet::reference::{AdamParams, LossParams};
use emunet::train::GpuTrainer;
use emunet::{Context, Model, Unet};
use std::sync::Arc;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let ctx = Arc::new(Context::new().expect("benchmarks need a GPU adapter"));
    let mut group = c.benchmark_group(format!("train_step [{}]", ctx.info.name));
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    let (n, h, w) = (8, 256, 256);
    let x: Vec<f32> = (0..n * h * w)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect();
    let t: Vec<f32> = (0..n * h * w).map(|i| (i % 37 == 0) as u8 as f32).collect();
    for (depth, channels) in [(2, 8), (3, 16)] {
        let model = Model::init_he(depth, channels, 1).unwrap();
        let loss = LossParams {
            pos_weight: 5.0,
            jaccard_weight: 0.0,
        };
        let mut trainer =
            GpuTrainer::new(ctx.clone(), &model, n, h, w, loss, AdamParams::default()).unwrap();
        trainer.step(&x, &t).unwrap();
        group.throughput(Throughput::Elements(
            3 * n as u64 * Unet::flops(depth, channels, h, w),
        ));
        group.bench_function(format!("UNet({depth},{channels}) 8x256x256"), |b| {
            b.iter(|| trainer.step(&x, &t).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
