//! head1x1 (1×1 conv C → 1 + bias + sigmoid, writing a tile's core into the frame) on the GPU
//! against the CPU reference; pixels outside the core must stay untouched.

use crate::common::*;
use emunet::kernels::{Head1x1, Head1x1Params};
use emunet::layout::{c4, pack_activation, pack_head_weight};
use emunet::reference;

/// Tile `th × tw` at frame position (oy, ox), core rows cy0..cy1 and columns cx0..cx1,
/// frame `out_h × out_w`.
#[allow(clippy::too_many_arguments)]
fn check(
    seed: u64,
    c: usize,
    th: usize,
    tw: usize,
    core: [usize; 4],
    origin: [usize; 2],
    out: [usize; 2],
) {
    let ctx = ctx();
    let mut rng = rng(seed);
    let x = random_tensor(&mut rng, 1, c, th, tw);
    let weight = random_vec(&mut rng, c);
    let bias = random_vec(&mut rng, 1)[0];
    let probs = reference::head1x1(&x, &weight, bias);
    let [cy0, cy1, cx0, cx1] = core;
    let [oy, ox] = origin;
    let [out_h, out_w] = out;
    let mut expected = vec![f32::NAN; out_h * out_w];
    for ty in cy0..cy1 {
        for tx in cx0..cx1 {
            let (fy, fx) = (oy + ty, ox + tx);
            if fy < out_h && fx < out_w {
                expected[fy * out_w + fx] = probs.at(0, 0, ty, tx);
            }
        }
    }
    let k = &ctx.kernel::<Head1x1>(());
    let x_buf = ctx.upload("x", &pack_activation(&x));
    let w_buf = ctx.upload("weight", &pack_head_weight(&weight));
    let b_buf = ctx.upload("bias", &[bias, 0.0, 0.0, 0.0]);
    let prob = ctx.poisoned("prob", out_h * out_w);
    let p = Head1x1Params {
        th: th as u32,
        tw: tw as u32,
        c4: c4(c) as u32,
        logits: 0,
        cy0: cy0 as u32,
        cy1: cy1 as u32,
        cx0: cx0 as u32,
        cx1: cx1 as u32,
        oy: oy as u32,
        ox: ox as u32,
        out_h: out_h as u32,
        out_w: out_w as u32,
    };
    let params = ctx.uniform("params", &p);
    let group = k.bind(
        &ctx.device,
        "head1x1",
        &[&x_buf, &w_buf, &b_buf, &prob, &params],
    );
    run(&ctx, |pass| k.record(pass, &group, &p));
    let got: Vec<f32> = ctx.read::<f32>(&prob).unwrap()[..out_h * out_w].to_vec();
    let written: Vec<usize> = (0..expected.len())
        .filter(|&i| !expected[i].is_nan())
        .collect();
    for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(
            e.is_nan(),
            g.is_nan(),
            "head1x1 c={c}: pixel {i} written={} expected written={}",
            !g.is_nan(),
            !e.is_nan()
        );
    }
    let pick = |v: &[f32]| written.iter().map(|&i| v[i]).collect::<Vec<f32>>();
    assert_close(
        &format!("head1x1 c={c} tile {th}x{tw} core {core:?} at {origin:?} in {out:?}"),
        &pick(&expected),
        &pick(&got),
    );
}

#[test]
fn one_channel_whole_frame() {
    check(1, 1, 5, 7, [0, 5, 0, 7], [0, 0], [5, 7]);
}

#[test]
fn three_channels_cropped_padding() {
    // Tile covers the padded frame (8×8); the frame is 5×7: padding rows/columns are cropped.
    check(2, 3, 8, 8, [0, 8, 0, 8], [0, 0], [5, 7]);
}

#[test]
fn four_channels_core_in_tile() {
    check(3, 4, 12, 10, [2, 9, 3, 10], [4, 6], [30, 40]);
}

#[test]
fn eight_channels() {
    check(4, 8, 9, 11, [0, 9, 0, 11], [0, 0], [9, 11]);
}

#[test]
fn sixteen_channels_edge_tile() {
    check(5, 16, 16, 16, [4, 16, 0, 12], [16, 0], [29, 13]);
}

#[test]
fn thirty_two_channels() {
    check(6, 32, 17, 3, [0, 17, 0, 3], [0, 0], [17, 3]);
}

#[test]
fn large_logits_saturate_without_nan() {
    // Weights of ±1 over 64 channels of ±1 inputs reach |logit| ~ 60: sigmoid must stay finite.
    check(7, 64, 4, 4, [0, 4, 0, 4], [0, 0], [4, 4]);
}
