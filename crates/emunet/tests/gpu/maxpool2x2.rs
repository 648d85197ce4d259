//! maxpool2x2 on the GPU against the CPU reference.

use crate::common::*;
use emunet::kernels::{Maxpool2x2, Maxpool2x2Params, Storage};
use emunet::layout::{c4, pack_activation, unpack_activation};
use emunet::reference;

fn check(seed: u64, n: usize, c: usize, h: usize, w: usize) {
    let ctx = ctx();
    let mut rng = rng(seed);
    let x = random_tensor(&mut rng, n, c, h, w);
    let expected = reference::maxpool2x2(&x);
    let k = &ctx.kernel::<Maxpool2x2>(Storage::Buffers);
    let x_buf = ctx.upload("x", &pack_activation(&x));
    let y = ctx.poisoned("y", n * (h / 2) * (w / 2) * c4(c) * 4);
    let p = Maxpool2x2Params {
        n: n as u32,
        h: h as u32,
        w: w as u32,
        c4: c4(c) as u32,
    };
    let params = ctx.uniform("params", &p);
    let group = k.bind(&ctx.device, "maxpool2x2", &[&x_buf, &y, &params]);
    run(&ctx, |pass| k.record(pass, &group, &p));
    let got = unpack_activation(&ctx.read::<f32>(&y).unwrap(), n, c, h / 2, w / 2);
    // Max-pooling selects values: the GPU must return them bit for bit.
    assert_eq!(expected.data, got.data, "maxpool2x2 n={n} c={c} {h}x{w}");
    println!("maxpool2x2 n={n} c={c} {h}x{w}: OK (exact)");
}

#[test]
fn smallest() {
    check(1, 1, 1, 2, 2);
}

#[test]
fn three_channels() {
    check(2, 1, 3, 4, 6);
}

#[test]
fn four_channels_batch() {
    check(3, 2, 4, 10, 14);
}

#[test]
fn eight_channels_two_wide() {
    check(4, 1, 8, 18, 2);
}

#[test]
fn sixteen_channels() {
    check(5, 1, 16, 34, 30);
}

#[test]
fn thirty_two_channels() {
    check(6, 1, 32, 64, 66);
}

#[test]
fn odd_channel_count() {
    check(7, 1, 33, 6, 8);
}
