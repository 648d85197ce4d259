//! The classical station pipeline per 1280×1024 nominal simulated frame: on the GPU (statistics,
//! filter, threshold, and the labelling, cluster sums and area cut as shaders or on the host;
//! readback included) and the CPU reference; and the labelling with cluster sums alone
//! on the GPU and on the CPU. Published figures: 40 ms on the station's GPU, up to 100 ms on CPU.

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use emunet::Context;
use emunet::clusters;
use emunet::clusters_gpu::{GpuClusters, Labelling};
use emunet_tools::classic::{Classic, ClassicParams, reference};
use emunet_tools::simulate::{Preset, SimParams, View};
use std::sync::Arc;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let ctx = Arc::new(Context::new().expect("benchmarks need a GPU adapter"));
    let p = SimParams::preset(Preset::Nominal);
    let frame = View::new(&p, 1, 0)
        .unwrap()
        .render("bench".into(), 20.0)
        .image;
    let params = ClassicParams::default();
    let mut group = c.benchmark_group("classic 1280x1024 nominal");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    // FLOPs of the 6×6 filter (multiply-add = 2) as "elements".
    group.throughput(Throughput::Elements(2 * 36 * frame.len() as u64));
    for labelling in [Labelling::Gpu, Labelling::Host] {
        let mut gpu = Classic::new(ctx.clone(), params);
        gpu.set_labelling(labelling);
        gpu.run(&frame).unwrap();
        group.bench_function(
            format!("GPU [{}], {labelling:?} labelling", ctx.info.name),
            |b| b.iter(|| gpu.run(&frame).unwrap()),
        );
    }
    group.bench_function("CPU reference (1 thread)", |b| {
        b.iter(|| reference::run(&frame, &params))
    });
    group.finish();

    // Labelling and cluster sums alone, on this frame's classical mask with weights r − t.
    let cpu = reference::run(&frame, &params);
    let t = cpu.threshold;
    let (w, h) = (frame.width, frame.height);
    let mask = reference::threshold(&cpu.response, w, h, t, params.border);
    let weight: Vec<f32> = cpu.response.iter().map(|&v| (v - t).max(0.0)).collect();
    let mut group = c.benchmark_group("clusters 1280x1024 classical mask");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Bytes((w * h) as u64));
    let mut gpu = GpuClusters::new(ctx.clone(), params.connectivity);
    group.bench_function(format!("GPU [{}] (upload included)", ctx.info.name), |b| {
        b.iter(|| gpu.find(&mask, w, h, Some(&weight), (0.0, 0.0)).unwrap())
    });
    group.bench_function("CPU reference (1 thread)", |b| {
        b.iter(|| {
            clusters::find_clusters(&mask, w, h, params.connectivity, Some(&weight), (0.0, 0.0))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
