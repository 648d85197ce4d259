//! The whole UNet(D, C) on the GPU against the CPU reference, both engines (per-operation and
//! fused), tiling, and bad frames.

use crate::common::*;
use emunet::unet::Engine;
use emunet::{Frame, Unet, reference};
use rand::RngExt;

/// An emulsion-like 8-bit frame: bright background, dark blobs, noise.
fn emulsion_like(seed: u64, w: usize, h: usize) -> Frame {
    let mut rng = rng(seed);
    let mut img: Vec<f32> = (0..w * h)
        .map(|_| 205.0 + rng.random_range(-6.0..6.0))
        .collect();
    for _ in 0..(w * h / 150).max(1) {
        let (cx, cy) = (
            rng.random_range(0.0..w as f32),
            rng.random_range(0.0..h as f32),
        );
        let depth = rng.random_range(40.0..120.0);
        for y in 0..h {
            for x in 0..w {
                let d2 = (x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2);
                if d2 < 16.0 {
                    img[y * w + x] -= depth * (-d2 / 2.0).exp();
                }
            }
        }
    }
    Frame::from_u8(
        w,
        h,
        img.iter().map(|v| v.clamp(0.0, 255.0) as u8).collect(),
    )
    .unwrap()
}

fn check(depth: usize, channels: usize, w: usize, h: usize, seed: u64) {
    let model = random_model(depth, channels, seed);
    let frame = emulsion_like(seed, w, h);
    let expected = reference::unet_forward(&model, &frame);
    for engine in [Engine::Ops, Engine::Fused] {
        let mut unet = Unet::new(ctx(), &model).unwrap();
        unet.set_engine(engine);
        let seg = unet.segment(&frame).unwrap();
        assert_eq!(seg.engine, engine);
        assert_eq!((seg.width, seg.height), (w, h));
        assert_close(
            &format!("UNet({depth},{channels}) {w}x{h} {engine:?}"),
            &expected,
            &seg.prob,
        );
    }
}

#[test]
fn unet_2_8_on_96x80() {
    check(2, 8, 96, 80, 1);
}

#[test]
fn unet_2_8_on_130x70_padded() {
    check(2, 8, 130, 70, 2);
}

#[test]
fn unet_3_4_on_odd_frame() {
    check(3, 4, 37, 29, 3);
}

#[test]
fn unet_1_3_on_tiny_frame() {
    check(1, 3, 2, 3, 4);
}

#[test]
fn unet_3_16_on_130x70() {
    check(3, 16, 130, 70, 5);
}

#[test]
fn tiled_equals_whole_frame() {
    // A budget far below the frame's needs forces tiles with halos; every pixel must come out
    // exactly as in the one-tile pass, and agree with the reference.
    let (w, h) = (150, 230);
    let model = random_model(2, 4, 6);
    let frame = emulsion_like(6, w, h);
    let mut whole = Unet::new(ctx(), &model).unwrap();
    whole.set_engine(Engine::Ops);
    let one = whole.segment(&frame).unwrap();
    assert_eq!(one.tiles, 1);
    let mut tiled = Unet::new(ctx(), &model).unwrap();
    tiled.set_engine(Engine::Ops); // tiling is the per-operation engine's
    tiled.set_tile_budget(100 * 100 * 16);
    let many = tiled.segment(&frame).unwrap();
    assert!(many.tiles > 2, "expected several tiles, got {}", many.tiles);
    println!("tiles: {:?}", tiled.tiles());
    assert_eq!(
        one.prob, many.prob,
        "tiled result differs from the whole-frame result"
    );
    assert_close(
        "UNet(2,4) tiled vs reference",
        &reference::unet_forward(&model, &frame),
        &many.prob,
    );
}

#[test]
fn tiles_cover_the_frame_once() {
    let model = random_model(4, 16, 7);
    let mut unet = Unet::new(ctx(), &model).unwrap();
    unet.set_tile_budget(8 << 20);
    let (hp, wp) = (1024, 1280);
    let tiles = unet.plan_tiles(hp, wp).unwrap();
    let mut cover = vec![0u8; hp * wp];
    for t in &tiles {
        assert_eq!(
            t.oy % 16 + t.ox % 16 + t.th % 16 + t.tw % 16,
            0,
            "tile off the 2^D grid: {t:?}"
        );
        for y in t.cy0..t.cy1 {
            for x in t.cx0..t.cx1 {
                cover[(t.oy + y) * wp + t.ox + x] += 1;
            }
        }
        // The halo must exceed the receptive radius wherever the tile does not touch the frame edge.
        let r = emunet::unet::receptive_radius(4);
        assert!(t.oy == 0 || t.cy0 >= r);
        assert!(t.ox == 0 || t.cx0 >= r);
        assert!(t.oy + t.th == hp || t.th - t.cy1 >= r);
        assert!(t.ox + t.tw == wp || t.tw - t.cx1 >= r);
    }
    assert!(
        cover.iter().all(|&c| c == 1),
        "every pixel in exactly one core"
    );
}

#[test]
fn same_frame_twice_gives_same_bits_and_sizes_switch() {
    let model = random_model(2, 4, 8);
    let mut unet = Unet::new(ctx(), &model).unwrap();
    let a = emulsion_like(8, 40, 36);
    let b = emulsion_like(9, 21, 17);
    let first = unet.segment(&a).unwrap().prob;
    let other = unet.segment(&b).unwrap().prob;
    assert_close(
        "UNet(2,4) 21x17 after a 40x36 plan",
        &reference::unet_forward(&model, &b),
        &other,
    );
    assert_eq!(first, unet.segment(&a).unwrap().prob);
}

#[test]
fn sixteen_bit_frame() {
    let model = random_model(2, 4, 10);
    let mut rng = rng(10);
    let frame = Frame::from_u16(
        33,
        20,
        (0..660)
            .map(|_| rng.random_range(20000..60000u16))
            .collect(),
    )
    .unwrap();
    let seg = Unet::new(ctx(), &model).unwrap().segment(&frame).unwrap();
    assert_close(
        "UNet(2,4) 16-bit 33x20",
        &reference::unet_forward(&model, &frame),
        &seg.prob,
    );
}

#[test]
fn flat_frame_is_finite() {
    // std = 0: the 1e-6 guard keeps the input at 0, the output finite.
    let model = random_model(2, 4, 11);
    let frame = Frame::from_u8(16, 16, vec![200; 256]).unwrap();
    let seg = Unet::new(ctx(), &model).unwrap().segment(&frame).unwrap();
    assert!(seg.prob.iter().all(|p| p.is_finite()));
    assert_close(
        "UNet(2,4) flat frame",
        &reference::unet_forward(&model, &frame),
        &seg.prob,
    );
}

#[test]
fn frame_smaller_than_two_to_the_depth_is_refused() {
    let model = random_model(3, 4, 12);
    let mut unet = Unet::new(ctx(), &model).unwrap();
    let err = unet
        .segment(&Frame::from_u8(7, 30, vec![100; 210]).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("smaller than 2^D = 8"), "{err}");
    // The engine stays usable after a refusal.
    let ok = unet.segment(&emulsion_like(12, 8, 8)).unwrap();
    assert_eq!(ok.prob.len(), 64);
}

#[test]
fn mask_follows_threshold() {
    let model = random_model(1, 4, 13);
    let mut unet = Unet::new(ctx(), &model).unwrap();
    unet.set_threshold(0.3).unwrap();
    let seg = unet.segment(&emulsion_like(13, 20, 20)).unwrap();
    for (p, m) in seg.prob.iter().zip(seg.mask()) {
        assert_eq!(m, if *p >= 0.3 { 255 } else { 0 });
    }
    assert!(unet.set_threshold(1.5).is_err());
}

#[test]
fn flops_match_the_peer_table() {
    // benches/peers: UNet(3,16) 92.0 G and UNet(4,16) 120.5 G at 1024×1280.
    let g = |d, c| Unet::flops(d, c, 1024, 1280) as f64 / 1e9;
    assert!((g(3, 16) - 92.0).abs() < 0.1, "UNet(3,16): {}", g(3, 16));
    assert!((g(4, 16) - 120.5).abs() < 0.1, "UNet(4,16): {}", g(4, 16));
    assert!((g(2, 8) - 16.0).abs() < 0.1, "UNet(2,8): {}", g(2, 8));
}
