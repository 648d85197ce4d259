//! Rendering one 1280×1024 nominal frame (grains of a view, optics, camera; CPU).

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use emunet_tools::simulate::{Preset, SimParams, View};
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let p = SimParams::preset(Preset::Nominal);
    let mut group = c.benchmark_group("simulate");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("nominal 1280x1024 view + frame", |b| {
        let mut seed = 0;
        b.iter(|| {
            seed += 1;
            View::new(&p, seed, 0).unwrap().render("bench".into(), 20.0)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
