//! upconv2x2 (transposed conv 2×2 stride 2 + bias) on the GPU against the CPU reference.

use crate::common::*;
use emunet::kernels::{Upconv2x2, Upconv2x2Config, Upconv2x2Params, Variant};
use emunet::layout::{c4, pack_activation, pack_bias, pack_upconv2x2_weight, unpack_activation};
use emunet::reference;

fn check(seed: u64, n: usize, ci: usize, co: usize, h: usize, w: usize) {
    let ctx = ctx();
    let mut rng = rng(seed);
    let x = random_tensor(&mut rng, n, ci, h, w);
    let weight = random_vec(&mut rng, ci * co * 4);
    let bias = random_vec(&mut rng, co);
    let expected = reference::upconv2x2(&x, &weight, &bias);
    // Every variant the adapter supports must agree with the reference.
    let variants = [Variant::Direct, Variant::Subgroup]
        .into_iter()
        .filter(|v| v.supported(ctx.features, &ctx.info));
    for variant in variants {
        let k = &ctx.kernel::<Upconv2x2>(Upconv2x2Config::buffers(variant));
        let x_buf = ctx.upload("x", &pack_activation(&x));
        let w_buf = ctx.upload("weight", &pack_upconv2x2_weight(&weight, ci, co));
        let b_buf = ctx.upload("bias", &pack_bias(&bias));
        let y = ctx.poisoned("y", n * 4 * h * w * c4(co) * 4);
        let p = Upconv2x2Params {
            n: n as u32,
            h: h as u32,
            w: w as u32,
            ci4: c4(ci) as u32,
            co4: c4(co) as u32,
            _pad: [0; 3],
        };
        let params = ctx.uniform("params", &p);
        let group = k.bind(
            &ctx.device,
            "upconv2x2",
            &[&x_buf, &w_buf, &b_buf, &y, &params],
        );
        run(&ctx, |pass| k.record(pass, &group, &p));
        let got = unpack_activation(&ctx.read::<f32>(&y).unwrap(), n, co, 2 * h, 2 * w);
        assert_close(
            &format!("upconv2x2 {variant:?} n={n} ci={ci} co={co} {h}x{w}"),
            &expected.data,
            &got.data,
        );
    }
}

#[test]
fn one_channel_one_pixel() {
    check(1, 1, 1, 1, 1, 1);
}

#[test]
fn four_to_three() {
    check(2, 1, 4, 3, 3, 5);
}

#[test]
fn eight_to_four() {
    check(3, 1, 8, 4, 7, 9);
}

#[test]
fn sixteen_to_eight_batch() {
    check(4, 2, 16, 8, 5, 3);
}

#[test]
fn thirty_two_to_sixteen() {
    check(5, 1, 32, 16, 9, 11);
}

#[test]
fn sixty_four_to_thirty_two() {
    check(6, 1, 64, 32, 4, 4);
}

#[test]
fn odd_channels() {
    check(7, 1, 5, 7, 3, 3);
    check(8, 1, 3, 1, 2, 6);
}
