//! The whole forward pass at 1280×1024, UNet(3,16) and UNet(4,16), end to end as `segment` runs
//! it (upload of the 8-bit frame, statistics, normalisation, the network, readback of the
//! probabilities): time and GFLOP/s ("elem/s" = FLOP/s, counted as in ../shared/peers).

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use emunet::{Context, Frame, Model, Unet};
use std::sync::Arc;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let ctx = Arc::new(Context::new().expect("benchmarks need a GPU adapter"));
    let mut group = c.benchmark_group(format!("unet_forward [{}]", ctx.info.name));
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    let (w, h) = (1280, 1024);
    let pixels: Vec<u8> = (0..w * h).map(|i| (180 + (i * 7919 % 61)) as u8).collect();
    let frame = Frame::from_u8(w, h, pixels).unwrap();
    for (depth, channels) in [(3, 16), (4, 16)] {
        let model = Model::init_he(depth, channels, 1).unwrap();
        let mut unet = Unet::new(ctx.clone(), &model).unwrap();
        unet.segment(&frame).unwrap(); // plan and compile outside the measurement
        group.throughput(Throughput::Elements(Unet::flops(depth, channels, h, w)));
        group.bench_function(format!("UNet({depth},{channels}) 1280x1024 segment"), |b| {
            b.iter(|| unet.segment(&frame).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
