//! Frames at another pixel size than the model's (`Unet::set_pixel_um`): results on the frame's
//! own grid, equal to segmenting the resampled frame and interpolating back; the same through
//! `segment`, `segment_batch` and the stream; nothing changes at the model's own size.

use crate::common::*;
use emunet::flatfield::FlatField;
use emunet::scale::Rescale;
use emunet::unet::Engine;
use emunet::{Frame, Model, Unet};
use rand::RngExt;

fn frame(seed: u64, w: usize, h: usize) -> Frame {
    let mut rng = rng(seed);
    let data = (0..w * h)
        .map(|_| (180.0 + rng.random_range(-20.0..20.0f32)) as u8)
        .collect();
    Frame::from_u8(w, h, data).unwrap()
}

fn model() -> Model {
    let mut m = Model::init_he(2, 4, 11).unwrap();
    m.set_pixel_um(0.3).unwrap();
    m
}

#[test]
fn the_models_own_pixel_size_changes_nothing() {
    let f = frame(1, 45, 38);
    let mut plain = Unet::new(ctx(), &model()).unwrap();
    let want = plain.segment(&f).unwrap();
    let mut same = Unet::new(ctx(), &model()).unwrap();
    same.set_pixel_um(Some(0.3)).unwrap();
    assert!(!same.rescaling());
    let got = same.segment(&f).unwrap();
    assert_eq!(got.prob, want.prob);
    assert_eq!(got.mask(), want.mask());
}

#[test]
fn a_rescaled_frame_comes_back_on_its_own_grid() {
    for (engine, frame_um, (w, h)) in [
        (Engine::Ops, 0.2, (61, 47)),
        (Engine::Fused, 0.2, (64, 40)),
        (Engine::Ops, 0.45, (33, 29)),
        (Engine::Fused, 0.4, (40, 32)),
    ] {
        let f = frame(2, w, h);
        let rescale = Rescale::new(w, h, frame_um, 0.3).unwrap().unwrap();
        let small = rescale.frame_to_model(&f).unwrap();
        let mut unet = Unet::new(ctx(), &model()).unwrap();
        unet.set_engine(engine);
        let at_model = unet.segment(&small).unwrap();
        unet.set_pixel_um(Some(frame_um)).unwrap();
        assert!(unet.rescaling());
        let seg = unet.segment(&f).unwrap();
        let what = format!("{engine:?} {frame_um} µm {w}×{h}");
        assert_eq!((seg.width, seg.height), (w, h), "{what}");
        assert_eq!(seg.engine, at_model.engine, "{what}");
        let want = rescale.prob_to_frame(&at_model.prob);
        assert_eq!(seg.prob, want, "{what}");
        let mask: Vec<u8> = want
            .iter()
            .map(|&p| if p >= seg.threshold { 255 } else { 0 })
            .collect();
        assert_eq!(seg.mask(), mask, "{what}");
        // The same through a batch and the stream.
        let batch = unet.segment_batch(&[f.clone(), f.clone()]).unwrap();
        for b in &batch {
            assert_eq!((&b.prob, b.width), (&seg.prob, w), "{what} batch");
        }
        unet.submit(&f).unwrap();
        let (_, streamed) = unet.poll(true).unwrap().unwrap();
        assert_eq!(streamed.prob, seg.prob, "{what} stream");
        assert_eq!(streamed.mask(), seg.mask(), "{what} stream");
    }
}

/// With a flat-field the host applies it before resampling: the result is that of the
/// corrected frame, and `corrected` is the frame's own size.
#[test]
fn a_flatfield_is_applied_before_resampling() {
    let (w, h) = (50, 36);
    let f = frame(3, w, h);
    let flat = FlatField::estimate(&[frame(4, w, h), frame(5, w, h), frame(7, w, h)]).unwrap();
    let corrected = flat.apply(&f).unwrap();
    let mut unet = Unet::new(ctx(), &model()).unwrap();
    unet.set_pixel_um(Some(0.25)).unwrap();
    let want = unet.segment(&corrected).unwrap();
    unet.set_flatfield(Some(&flat));
    let got = unet.segment(&f).unwrap();
    assert_eq!(got.prob, want.prob);
    assert_eq!(got.corrected.as_ref(), Some(&corrected));
    // Back at the model's scale the GPU applies it, as before.
    unet.set_pixel_um(None).unwrap();
    let native = unet.segment(&f).unwrap();
    assert_eq!((native.width, native.height), (w, h));
    assert_eq!(native.corrected.as_ref(), Some(&corrected));
}

#[test]
fn gpu_clusters_of_a_rescaled_frame_are_the_frames_own() {
    let f = frame(6, 57, 41);
    let mut unet = Unet::new(ctx(), &model()).unwrap();
    unet.set_threshold(0.3).unwrap();
    unet.set_pixel_um(Some(0.22)).unwrap();
    unet.set_gpu_clusters(true);
    let seg = unet.segment(&f).unwrap();
    let clusters = seg.clusters.as_ref().expect("asked for");
    let median = emunet::reference::frame_median(&f) as f32;
    let weight: Vec<f32> = (0..f.len())
        .map(|i| (median - f.value(i) as f32).max(0.0))
        .collect();
    let want = emunet::clusters::find_clusters(
        &seg.mask(),
        57,
        41,
        emunet::clusters::Connectivity::Eight,
        Some(&weight),
        (0.0, 0.0),
    );
    assert_eq!(clusters, &want);
}

#[test]
fn bad_pixel_sizes_are_refused() {
    let mut unet = Unet::new(ctx(), &model()).unwrap();
    for bad in [0.0, -0.3, f64::NAN, f64::INFINITY] {
        let err = unet.set_pixel_um(Some(bad)).unwrap_err().to_string();
        assert!(err.contains("pixel size"), "{bad}: {err}");
    }
    assert_eq!(unet.pixel_um(), None);
    let mut m = model();
    m.metadata.insert("pixel_um".into(), "fine".into());
    let bytes = m.to_bytes().unwrap();
    let err = Model::from_bytes(&bytes).unwrap_err();
    assert!(err.contains("pixel_um"), "{err}");
}
