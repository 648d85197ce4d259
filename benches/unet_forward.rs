//! The whole forward pass at 1280×1024, UNet(2,16) (the shipped model's shape) and UNet(3,16),
//! end to end as `segment` runs it (upload of the 8-bit frame, statistics, normalisation, the
//! network, readback of the probabilities), per engine: the per-operation engine, the fused engine
//! with f32 and with f16 activation storage. Time and GFLOP/s ("elem/s" = FLOP/s, counted as in
//! benches/peers).

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use emunet::kernels::Precision;
use emunet::unet::Engine;
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
    let engines = [
        ("ops", Engine::Ops, Precision::F32),
        ("fused f32", Engine::Fused, Precision::F32),
        ("fused f16", Engine::Fused, Precision::F16),
    ];
    for (depth, channels) in [(2, 16), (3, 16)] {
        let model = Model::init_he(depth, channels, 1).unwrap();
        for (name, engine, precision) in engines {
            let mut unet = Unet::new(ctx.clone(), &model).unwrap();
            unet.set_engine(engine);
            unet.set_precision(precision);
            unet.segment(&frame).unwrap(); // plan and compile outside the measurement
            group.throughput(Throughput::Elements(Unet::flops(depth, channels, h, w)));
            let id = format!("UNet({depth},{channels}) 1280x1024 segment, {name}");
            group.bench_function(id, |b| b.iter(|| unet.segment(&frame).unwrap()));
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
