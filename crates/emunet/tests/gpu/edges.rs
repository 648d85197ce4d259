//! Dark lines along a frame's edges and the border cut (`Unet::set_border`): the network runs
//! on the frame with dark lines repaired, and the result has them (and the border) cleared;
//! frames without either are untouched.

use crate::common::*;
use emunet::edges::dark_edges;
use emunet::unet::Engine;
use emunet::{Frame, Model, Unet};
use rand::RngExt;

/// A frame of background ~185 with noise and dark spots, 60 × 44.
fn frame(seed: u64) -> (Vec<u8>, usize, usize) {
    let (w, h) = (60, 44);
    let mut rng = rng(seed);
    let data = (0..w * h)
        .map(|_| {
            let spot = if rng.random_range(0.0..1.0) < 0.03 {
                80.0
            } else {
                0.0
            };
            (185.0 + rng.random_range(-6.0..6.0f32) - spot) as u8
        })
        .collect();
    (data, w, h)
}

#[test]
fn a_dark_edge_row_is_repaired_before_and_cleared_after() {
    let model = Model::init_he(2, 4, 21).unwrap();
    let (clean, w, h) = frame(1);
    let mut dead = clean.clone();
    dead[..w].fill(0);
    for y in 0..h {
        dead[y * w + w - 1] = 0;
    }
    let dead = Frame::from_u8(w, h, dead).unwrap();
    let dark = dark_edges(&dead);
    assert_eq!((dark.top, dark.right, dark.bottom, dark.left), (1, 1, 0, 0));
    for engine in [Engine::Ops, Engine::Fused] {
        let mut unet = Unet::new(ctx(), &model).unwrap();
        unet.set_engine(engine);
        unet.set_threshold(0.3).unwrap();
        let got = unet.segment(&dead).unwrap();
        let repaired = unet.segment(&dark.repair(&dead)).unwrap();
        let (mut prob, mut mask) = (repaired.prob.clone(), repaired.mask());
        dark.clear(&mut prob, &mut mask, w, h);
        assert_eq!(got.prob, prob, "{engine:?}");
        assert_eq!(got.mask(), mask, "{engine:?}");
        assert!(got.mask()[..w].iter().all(|&m| m == 0), "{engine:?}");
        // The stream and a batch do the same.
        unet.submit(&dead).unwrap();
        let (_, streamed) = unet.poll(true).unwrap().unwrap();
        assert_eq!(streamed.mask(), mask, "{engine:?} stream");
        let batch = unet.segment_batch(std::slice::from_ref(&dead)).unwrap();
        assert_eq!(batch[0].mask(), mask, "{engine:?} batch");
    }
}

#[test]
fn the_border_cut_clears_only_the_border() {
    let model = Model::init_he(2, 4, 22).unwrap();
    let (data, w, h) = frame(2);
    let f = Frame::from_u8(w, h, data).unwrap();
    assert!(dark_edges(&f).is_empty());
    let mut unet = Unet::new(ctx(), &model).unwrap();
    unet.set_threshold(0.3).unwrap();
    let whole = unet.segment(&f).unwrap();
    unet.set_border(3);
    let cut = unet.segment(&f).unwrap();
    let (whole_mask, cut_mask) = (whole.mask(), cut.mask());
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let inside = x >= 3 && y >= 3 && x + 3 < w && y + 3 < h;
            match inside {
                true => assert_eq!((cut_mask[i], cut.prob[i]), (whole_mask[i], whole.prob[i])),
                false => assert_eq!((cut_mask[i], cut.prob[i]), (0, 0.0)),
            }
        }
    }
    unet.set_border(0);
    assert_eq!(
        unet.segment(&f).unwrap().prob,
        whole.prob,
        "0: the whole frame"
    );
}
