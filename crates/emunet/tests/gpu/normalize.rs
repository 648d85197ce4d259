//! frame_stats (histogram + mean/std + median) and normalize (z-score and median rules, reflect padding, tiling) on the GPU
//! against the CPU reference, for 8- and 16-bit frames.

use crate::common::*;
use emunet::Frame;
use emunet::kernels::{FrameStats, FrameStatsParams, Normalize, NormalizeParams};
use emunet::model::Normalization;
use emunet::reference;
use rand::RngExt;

fn random_frame(seed: u64, w: usize, h: usize, bits: u32) -> Frame {
    let mut rng = rng(seed);
    if bits == 8 {
        // Bright background with dark spots, like emulsion.
        let data = (0..w * h)
            .map(|_| {
                if rng.random_bool(0.05) {
                    rng.random_range(40..150u8)
                } else {
                    rng.random_range(190..230u8)
                }
            })
            .collect();
        Frame::from_u8(w, h, data).unwrap()
    } else {
        let data = (0..w * h).map(|_| rng.random_range(0..=u16::MAX)).collect();
        Frame::from_u16(w, h, data).unwrap()
    }
}

/// Runs stats + normalize for one tile of the padded frame and compares with the reference, for
/// every normalisation rule.
fn check(seed: u64, w: usize, h: usize, bits: u32, multiple: usize, tile: [usize; 4]) {
    for rule in [Normalization::Zscore, Normalization::Median] {
        check_rule(rule, seed, w, h, bits, multiple, tile);
    }
}

fn check_rule(
    rule: Normalization,
    seed: u64,
    w: usize,
    h: usize,
    bits: u32,
    multiple: usize,
    tile: [usize; 4],
) {
    let ctx = ctx();
    let frame = random_frame(seed, w, h, bits);
    let full = reference::normalize(&frame, multiple, rule);
    let [oy, ox, th, tw] = tile;
    let mut expected = Vec::with_capacity(th * tw * 4);
    for y in oy..oy + th {
        for x in ox..ox + tw {
            expected.extend_from_slice(&[full.at(0, 0, y, x), 0.0, 0.0, 0.0]);
        }
    }
    let words = frame.packed_words();
    let raw = ctx.upload("raw", &words);
    let hist = ctx.upload("hist", &vec![0u32; 1 << bits]);
    let stats = ctx.poisoned("stats", 8);
    let x = ctx.poisoned("x", th * tw * 4);
    let sp = FrameStatsParams {
        count: (w * h) as u32,
        bits,
        words: words.len() as u32,
        _pad: 0,
    };
    let np = NormalizeParams {
        h: h as u32,
        w: w as u32,
        bits,
        mode: NormalizeParams::mode_of(rule),
        oy: oy as u32,
        ox: ox as u32,
        th: th as u32,
        tw: tw as u32,
    };
    let sg = ctx.kernel::<FrameStats>(()).bind(
        &ctx.device,
        "stats",
        &[&raw, &hist, &stats, &ctx.uniform("sp", &sp)],
    );
    let ng = ctx.kernel::<Normalize>(()).bind(
        &ctx.device,
        "normalize",
        &[&raw, &stats, &x, &ctx.uniform("np", &np)],
    );
    run(&ctx, |pass| {
        ctx.kernel::<FrameStats>(()).record(pass, &sg, &sp);
        ctx.kernel::<Normalize>(()).record(pass, &ng, &np);
    });
    let (mean, std) = reference::frame_stats(&frame);
    let got_stats = ctx.read::<f32>(&stats).unwrap();
    assert_close(
        &format!("frame_stats {w}x{h} {bits}-bit"),
        &[mean as f32, std as f32],
        &[got_stats[0], got_stats[2]],
    );
    assert_eq!(
        got_stats[4],
        reference::frame_median(&frame) as f32,
        "median of {w}x{h} {bits}-bit"
    );
    let got = ctx.read::<f32>(&x).unwrap();
    assert_close(
        &format!("normalize {rule:?} {w}x{h} {bits}-bit tile {tile:?}"),
        &expected,
        &got[..th * tw * 4],
    );
}

#[test]
fn tiny_8bit() {
    check(1, 2, 2, 8, 2, [0, 0, 2, 2]);
}

#[test]
fn odd_8bit_reflect_padded() {
    check(2, 37, 29, 8, 16, [0, 0, 32, 48]);
}

#[test]
fn odd_16bit_reflect_padded() {
    check(3, 45, 23, 16, 8, [0, 0, 24, 48]);
}

#[test]
fn tile_inside_padded_frame() {
    check(4, 130, 70, 8, 16, [16, 32, 64, 98]);
}

#[test]
fn words_not_filled_8bit() {
    // 5×3 = 15 pixels: the last packed word holds 3 pixels; the histogram must not count padding.
    check(5, 5, 3, 8, 1, [0, 0, 3, 5]);
}

#[test]
fn words_not_filled_16bit() {
    check(6, 7, 3, 16, 1, [0, 0, 3, 7]);
}

#[test]
fn full_frame_8bit() {
    check(7, 1280, 1024, 8, 16, [0, 0, 64, 1280]);
}
