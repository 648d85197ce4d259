//! The fused inference engine (activations in textures; normalisation fused into the first conv,
//! the head and sigmoid into the last) against the per-operation engine and the CPU reference:
//! probabilities within the f32 tolerance, masks on the same pixels, on frames of odd and padded
//! sizes, 8- and 16-bit, both normalisations, with a flat-field; and where it cannot run.

use crate::common::*;
use emunet::flatfield::FlatField;
use emunet::kernels::Precision;
use emunet::model::Normalization;
use emunet::unet::Engine;
use emunet::{Frame, Model, Unet, reference};
use rand::RngExt;

/// `common::random_model` with the given input rule.
fn model_with(depth: usize, channels: usize, seed: u64, norm: Normalization) -> Model {
    let mut model = random_model(depth, channels, seed);
    model.set_normalization(norm);
    model
}

fn random_frame(seed: u64, w: usize, h: usize, sixteen: bool) -> Frame {
    let mut rng = rng(seed);
    if sixteen {
        Frame::from_u16(
            w,
            h,
            (0..w * h)
                .map(|_| rng.random_range(20000..60000u16))
                .collect(),
        )
        .unwrap()
    } else {
        Frame::from_u8(
            w,
            h,
            (0..w * h).map(|_| rng.random_range(60..250u8)).collect(),
        )
        .unwrap()
    }
}

/// Runs both engines (and the reference) on one frame and compares them.
fn compare(model: &Model, frame: &Frame, flat: Option<&FlatField>, what: &str) {
    let run = |engine| {
        let mut unet = Unet::new(ctx(), model).unwrap();
        unet.set_engine(engine);
        unet.set_flatfield(flat);
        let seg = unet.segment(frame).unwrap();
        assert_eq!(seg.engine, engine, "{what}");
        seg
    };
    let (ops, fused) = (run(Engine::Ops), run(Engine::Fused));
    assert!(
        fused.prob.iter().all(|p| p.is_finite()),
        "{what}: non-finite probability"
    );
    assert_close(&format!("{what}: fused vs ops"), &ops.prob, &fused.prob);
    let differ = ops
        .mask()
        .iter()
        .zip(fused.mask())
        .filter(|(a, b)| **a != *b)
        .count();
    assert!(
        differ as f64 <= 1e-4 * ops.prob.len() as f64,
        "{what}: {differ} mask pixels differ"
    );
    if flat.is_none() {
        assert_close(
            &format!("{what}: fused vs reference"),
            &reference::unet_forward(model, frame),
            &fused.prob,
        );
    } else {
        let (a, b) = (ops.corrected.unwrap(), fused.corrected.unwrap());
        assert_eq!(
            a.packed_words(),
            b.packed_words(),
            "{what}: flat-fielded frames differ"
        );
    }
}

#[test]
fn fused_equals_ops_on_many_shapes() {
    let cases = [
        (2, 8, 96, 80, false, Normalization::Zscore),
        (2, 8, 130, 70, false, Normalization::Median),
        (3, 4, 45, 37, true, Normalization::Zscore),
        (1, 3, 9, 7, false, Normalization::Median),
        (2, 16, 67, 41, true, Normalization::Median),
        (1, 12, 40, 24, false, Normalization::Zscore),
        // 128 channels at the bottom: more input groups than a uniform weight window holds, so
        // on CPU adapters those convs and the first up-conv read their weights from storage (the
        // others from windows, four of them for the 64-channel convs of UNet(2,16) above).
        (3, 16, 40, 24, false, Normalization::Zscore),
    ];
    for (i, &(d, c, w, h, sixteen, norm)) in cases.iter().enumerate() {
        let model = model_with(d, c, 70 + i as u64, norm);
        let frame = random_frame(170 + i as u64, w, h, sixteen);
        compare(
            &model,
            &frame,
            None,
            &format!("UNet({d},{c}) {w}x{h} {norm:?} 16-bit {sixteen}"),
        );
    }
}

#[test]
fn cpu_adapters_read_fused_weights_from_uniform_windows() {
    use emunet::kernels::{Conv3x3Storage, WeightsIn};
    let ctx = ctx();
    if ctx.info.device_type != wgpu::DeviceType::Cpu {
        return;
    }
    use emunet::fused::{conv_config, upconv_config};
    use emunet::kernels::Epilogue;
    let v = ctx.variant();
    let p = Precision::F32;
    for storage in [
        Conv3x3Storage::Frame(p),
        Conv3x3Storage::Textures(p, Epilogue::Store),
        Conv3x3Storage::Textures(p, Epilogue::Head(emunet::kernels::ProbFormat::U8)),
    ] {
        assert_eq!(conv_config(v, storage, 4).weights, WeightsIn::Uniform);
    }
    let store = Conv3x3Storage::Textures(p, Epilogue::Store);
    assert_eq!(conv_config(v, store, 16).weights, WeightsIn::Uniform);
    assert_eq!(conv_config(v, store, 32).weights, WeightsIn::Storage);
    // Up-convs: whole tensors up to 64 → 32 channels (UNet(2,16)) fit, 128 → 64 do not.
    assert_eq!(upconv_config(v, p, 16, 8).weights, WeightsIn::Uniform);
    assert_eq!(upconv_config(v, p, 32, 16).weights, WeightsIn::Storage);
}

/// Encoder pools run in conv2's epilogue (conv3x3_two_rows_pool.wgsl) — no pool dispatch of their own —
/// except, on CPU adapters, after a conv wider than a uniform weight window (UNet(4,16)'s
/// 128-channel level), which runs as conv, then pool; both give the per-operation engine's output.
#[test]
fn encoder_pools_run_in_conv2_where_the_weights_allow() {
    let ctx = ctx();
    for (d, expected_pools) in [(2, vec![]), (4, vec!["enc3.pool"])] {
        let model = model_with(d, 16, 90 + d as u64, Normalization::Zscore);
        let frame = random_frame(190 + d as u64, 48, 32, false);
        compare(&model, &frame, None, &format!("UNet({d},16) 48x32"));
        let mut unet = Unet::new(ctx.clone(), &model).unwrap();
        unet.set_engine(Engine::Fused);
        let pools: Vec<String> = unet
            .profile_wall(&frame)
            .unwrap()
            .into_iter()
            .map(|s| s.label)
            .filter(|l| l.contains("pool"))
            .collect();
        let expected: Vec<&str> = match ctx.info.device_type {
            wgpu::DeviceType::Cpu => expected_pools,
            _ => vec![],
        };
        assert_eq!(pools, expected, "UNet({d},16)");
    }
}

#[test]
fn fused_equals_ops_with_a_flat_field() {
    let (w, h) = (50, 36);
    let model = model_with(2, 8, 90, Normalization::Median);
    let frames: Vec<Frame> = (0..5).map(|s| random_frame(190 + s, w, h, false)).collect();
    let flat = FlatField::estimate(&frames).unwrap();
    compare(
        &model,
        &frames[0],
        Some(&flat),
        "UNet(2,8) with a flat-field",
    );
}

#[test]
fn wide_models_fall_back_to_ops_or_are_refused() {
    let model = model_with(1, 20, 91, Normalization::Zscore);
    let frame = random_frame(191, 24, 16, false);
    let mut unet = Unet::new(ctx(), &model).unwrap();
    let seg = unet.segment(&frame).unwrap();
    assert_eq!(seg.engine, Engine::Ops, "Auto must fall back for C > 16");
    unet.set_engine(Engine::Fused);
    let err = unet.segment(&frame).unwrap_err().to_string();
    assert!(
        err.contains("16 channels") && err.contains("per-operation"),
        "{err}"
    );
}

/// f16 storage (f32 arithmetic) with the shipped model on a fresh nominal frame: probabilities
/// within 0.01 of f32 storage and at most 1e-4 of mask pixels different (on six 1280×1024 nominal
/// frames: max |Δp| ≤ 0.0067, ≤ 4.6e-6 of mask pixels).
#[test]
fn f16_storage_stays_within_its_tolerance() {
    use emunet_tools::simulate::{Preset, SimParams, View};
    let mut p = SimParams::preset(Preset::Nominal);
    (p.width, p.height) = (320, 256);
    let frame = View::new(&p, 31071, 0)
        .unwrap()
        .render("t".into(), 20.0)
        .image;
    let model = Model::shipped().unwrap();
    let run = |precision| {
        let mut unet = Unet::new(ctx(), &model).unwrap();
        unet.set_engine(Engine::Fused);
        unet.set_precision(precision);
        unet.segment(&frame).unwrap()
    };
    let (f32_, f16_) = (run(Precision::F32), run(Precision::F16));
    let max = f32_
        .prob
        .iter()
        .zip(&f16_.prob)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let differ = f32_
        .mask()
        .iter()
        .zip(f16_.mask())
        .filter(|(a, b)| **a != *b)
        .count();
    println!("f16 vs f32 storage: max |Δp| {max:.5}, {differ} mask pixels differ");
    assert!(
        max > 0.0,
        "f16 storage gave bit-identical results: is it really f16?"
    );
    assert!(max <= 0.01, "max |Δp| {max}");
    assert!(
        differ as f64 <= 1e-4 * f32_.prob.len() as f64,
        "{differ} mask pixels differ"
    );
    let mut ops = Unet::new(ctx(), &model).unwrap();
    ops.set_engine(Engine::Ops);
    ops.set_precision(Precision::F16);
    let err = ops.segment(&frame).unwrap_err().to_string();
    assert!(err.contains("f32 only"), "{err}");
}

/// `segment_batch` (one submit for several frames) gives each frame exactly what `segment`
/// gives it, on both engines, with and without a flat-field; batches of one size only.
#[test]
fn batch_equals_frame_by_frame() {
    let (w, h) = (52, 40);
    let model = model_with(2, 8, 92, Normalization::Median);
    let frames: Vec<Frame> = (0..4).map(|s| random_frame(290 + s, w, h, false)).collect();
    let flat = FlatField::estimate(&frames).unwrap();
    for engine in [Engine::Ops, Engine::Fused] {
        for flat in [None, Some(&flat)] {
            let mut unet = Unet::new(ctx(), &model).unwrap();
            unet.set_engine(engine);
            unet.set_flatfield(flat);
            // A batch of 3, then of 2 (reusing the slots), against single frames.
            let batch = unet.segment_batch(&frames[..3]).unwrap();
            let again = unet.segment_batch(&frames[1..3]).unwrap();
            for (i, frame) in frames[..3].iter().enumerate() {
                let single = unet.segment(frame).unwrap();
                assert_eq!(
                    batch[i].prob,
                    single.prob,
                    "{engine:?} flat {} frame {i}",
                    flat.is_some()
                );
                assert_eq!(
                    batch[i].corrected.as_ref().map(|f| f.packed_words()),
                    single.corrected.as_ref().map(|f| f.packed_words())
                );
                if i > 0 {
                    assert_eq!(again[i - 1].prob, single.prob);
                }
            }
        }
    }
    let mut unet = Unet::new(ctx(), &model).unwrap();
    assert!(unet.segment_batch(&[]).unwrap().is_empty());
    let odd = random_frame(299, w + 4, h, false);
    let err = unet
        .segment_batch(&[frames[0].clone(), odd])
        .unwrap_err()
        .to_string();
    assert!(err.contains("frame 1 of the batch"), "{err}");
}

/// Streaming (`submit` / `poll`, several frames in flight): every frame comes back once, in
/// submission order, with exactly what `segment` gives it, on both engines, with and without a
/// flat-field, across a change of frame size; a full ring and a batch during a stream are
/// refused with a clear error.
#[test]
fn stream_equals_frame_by_frame() {
    let model = model_with(2, 8, 93, Normalization::Median);
    let mut frames: Vec<Frame> = (0..5)
        .map(|s| random_frame(310 + s, 52, 40, false))
        .collect();
    frames.push(random_frame(320, 36, 44, true));
    frames.push(random_frame(321, 52, 40, false));
    let flat = FlatField::estimate(&frames[..5]).unwrap();
    for engine in [Engine::Ops, Engine::Fused] {
        for flat in [None, Some(&flat)] {
            let mut unet = Unet::new(ctx(), &model).unwrap();
            unet.set_engine(engine);
            // A flat-field fits one size only.
            let frames = if flat.is_some() {
                &frames[..5]
            } else {
                &frames[..]
            };
            unet.set_flatfield(flat);
            unet.set_in_flight(2).unwrap();
            let mut results = Vec::new();
            for (i, frame) in frames.iter().enumerate() {
                if unet.in_flight() == unet.max_in_flight() {
                    let err = unet.submit(frame).unwrap_err().to_string();
                    assert!(err.contains("in flight"), "{err}");
                    assert!(unet.segment_batch(std::slice::from_ref(frame)).is_err());
                    results.push(unet.poll(true).unwrap().expect("a frame in flight"));
                }
                assert_eq!(unet.submit(frame).unwrap(), i as u64);
            }
            while let Some(r) = unet.poll(true).unwrap() {
                results.push(r);
            }
            assert!(unet.poll(false).unwrap().is_none());
            // Without waiting: None until the frame is done, then the frame.
            unet.submit(&frames[0]).unwrap();
            let start = std::time::Instant::now();
            let polled = loop {
                if let Some(r) = unet.poll(false).unwrap() {
                    break r;
                }
                assert!(
                    start.elapsed().as_secs() < 60,
                    "a streamed frame never finished"
                );
                std::thread::sleep(std::time::Duration::from_millis(1));
            };
            assert_eq!(polled.0, frames.len() as u64);
            assert_eq!(polled.1.prob, unet.segment(&frames[0]).unwrap().prob);
            assert_eq!(results.len(), frames.len());
            for (i, (ticket, seg)) in results.iter().enumerate() {
                assert_eq!(*ticket, i as u64);
                let single = unet.segment(&frames[i]).unwrap();
                assert_eq!((seg.width, seg.height), (single.width, single.height));
                assert_eq!(
                    seg.prob,
                    single.prob,
                    "{engine:?} flat {} frame {i}",
                    flat.is_some()
                );
                assert_eq!(
                    seg.corrected.as_ref().map(|f| f.packed_words()),
                    single.corrected.as_ref().map(|f| f.packed_words())
                );
            }
        }
    }
}

/// `set_precision(None)` (auto): the fused engine stores f16 (the same probabilities as an explicit
/// f16), the per-operation engine f32 (the same as an explicit f32, no refusal).
#[test]
fn auto_precision_is_f16_fused_and_f32_ops() {
    let model = model_with(2, 8, 94, Normalization::Median);
    let frame = random_frame(330, 52, 40, false);
    let run = |engine: Engine, precision: Option<Precision>| {
        let mut unet = Unet::new(ctx(), &model).unwrap();
        unet.set_engine(engine);
        unet.set_precision(precision);
        unet.segment(&frame).unwrap().prob
    };
    let fused_auto = run(Engine::Fused, None);
    assert_eq!(fused_auto, run(Engine::Fused, Some(Precision::F16)));
    assert_ne!(fused_auto, run(Engine::Fused, Some(Precision::F32)));
    assert_eq!(
        run(Engine::Ops, None),
        run(Engine::Ops, Some(Precision::F32))
    );
    assert_eq!(run(Engine::Auto, None), fused_auto);
}

/// The last conv's epilogue writes the probabilities in the caller's format (f32, f16 or u8) and
/// the mask, decided on the f32 probability: the delivered probabilities lie on the format's grid
/// within its rounding step of the f64 reference, the mask equals the reference's wherever the
/// reference is clear of the threshold and is the same in every format; the per-operation engine
/// (rounding on the host) agrees, and so do batches and streams. Each run is preceded by a frame
/// with every pixel on (threshold ~0), so outputs the shader ORs into must be cleared per frame.
#[test]
fn last_conv_writes_rounded_probabilities_and_the_mask() {
    use emunet::kernels::ProbFormat;
    let cases = [
        (1, 4, 37, 29, false),
        (2, 8, 61, 33, true),
        (2, 16, 40, 24, false),
        (1, 16, 2, 7, false),
    ];
    for (i, &(d, c, w, h, sixteen)) in cases.iter().enumerate() {
        let model = model_with(d, c, 400 + i as u64, Normalization::Zscore);
        let frame = random_frame(410 + i as u64, w, h, sixteen);
        let earlier = random_frame(420 + i as u64, w, h, sixteen);
        let reference = reference::unet_forward(&model, &frame);
        let mut sorted = reference.clone();
        sorted.sort_by(f32::total_cmp);
        // The median: about half of the pixels on.
        let threshold = sorted[sorted.len() / 2].clamp(1e-6, 1.0 - 1e-6);
        for engine in [Engine::Fused, Engine::Ops] {
            let mut f32_mask: Option<Vec<u8>> = None;
            for format in [ProbFormat::F32, ProbFormat::F16, ProbFormat::U8] {
                let what = format!("UNet({d},{c}) {w}x{h} {engine:?} {format:?}");
                let mut unet = Unet::new(ctx(), &model).unwrap();
                unet.set_engine(engine);
                unet.set_prob_format(format);
                unet.set_threshold(1e-30).unwrap();
                let all_on = unet.segment(&earlier).unwrap();
                assert!(all_on.mask().iter().all(|&m| m == 255), "{what}");
                unet.set_threshold(threshold).unwrap();
                let seg = unet.segment(&frame).unwrap();
                assert_eq!(seg.engine, engine, "{what}");
                let step = match format {
                    ProbFormat::F32 => 0.0,
                    ProbFormat::F16 => 1.0 / 4096.0,
                    ProbFormat::U8 => 1.0 / 510.0,
                };
                let mut worst = 0.0f32;
                for (k, (&p, &r)) in seg.prob.iter().zip(&reference).enumerate() {
                    assert_eq!(
                        format.quantize(p),
                        p,
                        "{what}: pixel {k}: {p} is off the grid"
                    );
                    worst = worst.max((p - r).abs());
                }
                assert!(worst <= step + 1e-4, "{what}: max |Δp| {worst}");
                if format != ProbFormat::F32 {
                    assert!(worst > 0.0, "{what}: no rounding at all");
                }
                assert_eq!(
                    seg.mask_bytes.is_some(),
                    engine == Engine::Fused || format != ProbFormat::F32,
                    "{what}"
                );
                let mask = seg.mask();
                assert_eq!(mask.len(), w * h, "{what}");
                for (k, (&m, &r)) in mask.iter().zip(&reference).enumerate() {
                    if (r - threshold).abs() > 1e-4 {
                        assert_eq!(m == 255, r >= threshold, "{what}: mask pixel {k} (p {r})");
                    }
                }
                match &f32_mask {
                    None => f32_mask = Some(mask.clone()),
                    Some(first) => assert!(*first == mask, "{what}: mask differs from f32's"),
                }
                if engine == Engine::Fused && format == ProbFormat::F32 {
                    let host: Vec<u8> = seg
                        .prob
                        .iter()
                        .map(|&p| if p >= threshold { 255 } else { 0 })
                        .collect();
                    assert!(host == mask, "{what}: GPU mask differs from p ≥ threshold");
                }
                // A batch and a stream give the same bytes.
                let batch = unet
                    .segment_batch(&[earlier.clone(), frame.clone()])
                    .unwrap();
                assert_eq!(batch[1].prob, seg.prob, "{what}: batch");
                assert_eq!(batch[1].mask(), mask, "{what}: batch");
                unet.submit(&earlier).unwrap();
                unet.submit(&frame).unwrap();
                let _ = unet.poll(true).unwrap().unwrap();
                let (_, streamed) = unet.poll(true).unwrap().unwrap();
                assert_eq!(streamed.prob, seg.prob, "{what}: stream");
                assert_eq!(streamed.mask(), mask, "{what}: stream");
            }
        }
    }
}
