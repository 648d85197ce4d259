//! conv3x3 alone at 1280×1024, 16→16 and 32→32 channels: time, GFLOP/s ("elem/s" = FLOP/s)
//! and GB/s of minimal traffic. Each iteration records one dispatch per band, submits, waits.
//! Where one storage binding cannot hold a whole 1280×1024×C activation (lavapipe: 128 MiB, so
//! C = 32), the frame is computed as bands of rows, exactly as the U-Net runner tiles it.
//! "buffers" is the training and per-operation form; "textures f32/f16" the fused engine's (input
//! texture array, output storage texture array, whole frame; on CPU adapters with its weights in a
//! uniform window).

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use emunet::Context;
use emunet::fused::conv_config;
use emunet::kernels::conv3x3::{OB, window_blocks};
use emunet::kernels::{
    Conv3x3, Conv3x3Config, Conv3x3Params, Conv3x3Storage, Epilogue, Precision,
    UNIFORM_WINDOW_BYTES, WeightsIn,
};
use std::time::{Duration, Instant};

fn bench(c: &mut Criterion) {
    let ctx = Context::new().expect("benchmarks need a GPU adapter");
    let k = &ctx.kernel::<Conv3x3>(Conv3x3Config::buffers(ctx.variant()));
    let device_name = ctx.info.name.clone();
    let mut group = c.benchmark_group(format!("conv3x3 [{device_name}]"));
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    let (h, w) = (1024u32, 1280u32);
    for ch in [16usize, 32] {
        let c4 = (ch / 4) as u32;
        let row_bytes = (w * c4 * 16) as u64;
        let bands = (h as u64 * row_bytes).div_ceil(ctx.max_binding_bytes()) as u32;
        let band_h = h.div_ceil(bands);
        let x = ctx.storage("x", band_h as u64 * row_bytes);
        let y = ctx.storage("y", band_h as u64 * row_bytes);
        let weight = ctx.upload("weight", &vec![0.01f32; (c4 * c4 * 9 * 16) as usize]);
        let bias = ctx.upload("bias", &vec![0.0f32; (c4 * 4) as usize]);
        let p = Conv3x3Params {
            n: 1,
            h: band_h,
            w,
            ca4: c4,
            cb4: 0,
            co4: c4,
            relu: 1,
            ob_first: 0,
        };
        let params = ctx.uniform("params", &p);
        let bind = k.bind(
            &ctx.device,
            "conv3x3",
            &[&x, &x, &weight, &bias, &y, &params],
        );
        let flops = p.flops(ch, ch) * bands as u64;
        let bytes = p.bytes() * bands as u64;
        group.throughput(Throughput::ElementsAndBytes {
            elements: flops,
            bytes,
        });
        let id = format!("{ch}->{ch} 1280x1024 buffers ({bands} band(s))");
        group.bench_function(id, |b| {
            b.iter_custom(|iters| {
                timed(&ctx, iters, |pass| {
                    for _ in 0..bands {
                        k.record(pass, &bind, &p);
                    }
                })
            })
        });
    }
    for precision in [Precision::F32, Precision::F16] {
        // The fused engine's plain texture conv (its windowed form: both sizes fit one window).
        let storage = Conv3x3Storage::Textures(precision, Epilogue::Store);
        let k = &ctx.kernel::<Conv3x3>(conv_config(ctx.variant(), storage, 4));
        for ch in [16usize, 32] {
            let c4 = (ch / 4) as u32;
            let texture = |label: &str| {
                ctx.device.create_texture(&wgpu::TextureDescriptor {
                    label: Some(label),
                    size: wgpu::Extent3d {
                        width: w,
                        height: h,
                        depth_or_array_layers: c4,
                    },
                    mip_level_count: 1,
                    sample_count: 1,
                    dimension: wgpu::TextureDimension::D2,
                    format: precision.format(),
                    usage: wgpu::TextureUsages::TEXTURE_BINDING
                        | wgpu::TextureUsages::STORAGE_BINDING,
                    view_formats: &[],
                })
            };
            let view = |t: &wgpu::Texture| {
                t.create_view(&wgpu::TextureViewDescriptor {
                    dimension: Some(wgpu::TextureViewDimension::D2Array),
                    ..Default::default()
                })
            };
            let (x, y) = (texture("x"), texture("y"));
            let (xv, yv) = (view(&x), view(&y));
            // Padded by a uniform window, as the engine's weights are (uniform windows on CPU
            // adapters: both sizes here fit one window).
            let weights = (c4 * c4 * 9 * 16) as usize + (UNIFORM_WINDOW_BYTES / 4) as usize;
            let weight = ctx.buffer_with(
                "weight",
                bytemuck::cast_slice(&vec![0.01f32; weights]),
                wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::UNIFORM,
            );
            let bias = ctx.upload("bias", &vec![0.0f32; (c4 * 4) as usize]);
            let p = Conv3x3Params {
                n: 1,
                h,
                w,
                ca4: c4,
                cb4: 0,
                co4: c4,
                relu: 1,
                ob_first: 0,
            };
            assert!(
                window_blocks(c4) >= c4.div_ceil(OB),
                "one window per conv here"
            );
            let params = ctx.uniform("params", &p);
            let weight_binding = match k.config.weights {
                WeightsIn::Storage => weight.as_entire_binding(),
                WeightsIn::Uniform => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &weight,
                    offset: 0,
                    size: wgpu::BufferSize::new(UNIFORM_WINDOW_BYTES),
                }),
            };
            let bind = k.bind_numbered(
                &ctx.device,
                "conv3x3 textures",
                &[
                    (0, wgpu::BindingResource::TextureView(&xv)),
                    (2, weight_binding),
                    (3, bias.as_entire_binding()),
                    (4, wgpu::BindingResource::TextureView(&yv)),
                    (5, params.as_entire_binding()),
                ],
            );
            let bytes_per = if precision == Precision::F16 { 8 } else { 16 };
            group.throughput(Throughput::ElementsAndBytes {
                elements: p.flops(ch, ch),
                bytes: p.bytes() / 16 * bytes_per,
            });
            let id = format!("{ch}->{ch} 1280x1024 textures {precision:?}");
            group.bench_function(id, |b| {
                b.iter_custom(|iters| timed(&ctx, iters, |pass| k.record(pass, &bind, &p)))
            });
        }
    }
    group.finish();
}

/// Wall time of `iters` submissions of one compute pass that `record` fills, each waited for.
fn timed(ctx: &Context, iters: u64, record: impl Fn(&mut wgpu::ComputePass)) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            record(&mut pass);
        }
        ctx.submit(encoder);
        ctx.device
            .poll(wgpu::PollType::wait_indefinitely())
            .unwrap();
    }
    start.elapsed()
}

criterion_group!(benches, bench);
criterion_main!(benches);
