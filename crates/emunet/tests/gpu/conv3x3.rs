//! conv3x3 (bias + ReLU fused; one- and two-input forms) on the GPU against the CPU reference.

use crate::common::*;
use emunet::kernels::{Conv3x3, Conv3x3Config, Conv3x3Params, Variant};
use emunet::layout::{c4, pack_activation, pack_bias, pack_conv3x3_weight, unpack_activation};
use emunet::reference;

/// Runs the GPU kernel on random inputs of the given shape and compares with the reference.
#[allow(clippy::too_many_arguments)]
fn check(seed: u64, n: usize, ca: usize, cb: usize, co: usize, h: usize, w: usize, relu: bool) {
    let ctx = ctx();
    let mut rng = rng(seed);
    let xa = random_tensor(&mut rng, n, ca, h, w);
    let xb = (cb > 0).then(|| random_tensor(&mut rng, n, cb, h, w));
    let weight = random_vec(&mut rng, co * (ca + cb) * 9);
    let bias = random_vec(&mut rng, co);
    let expected = reference::conv3x3(&xa, xb.as_ref(), &weight, &bias, relu);

    // Every variant the adapter supports must agree with the reference.
    let variants = [Variant::Direct, Variant::Subgroup]
        .into_iter()
        .filter(|v| v.supported(ctx.features, &ctx.info));
    for variant in variants {
        let k = &ctx.kernel::<Conv3x3>(Conv3x3Config::buffers(variant));
        let a_buf = ctx.upload("x_a", &pack_activation(&xa));
        let b_buf = xb.as_ref().map(|t| ctx.upload("x_b", &pack_activation(t)));
        let w_buf = ctx.upload("weight", &pack_conv3x3_weight(&weight, co, ca, cb));
        let bias_buf = ctx.upload("bias", &pack_bias(&bias));
        let y = ctx.poisoned("y", n * h * w * c4(co) * 4);
        let p = Conv3x3Params {
            n: n as u32,
            h: h as u32,
            w: w as u32,
            ca4: c4(ca) as u32,
            cb4: c4(cb) as u32,
            co4: c4(co) as u32,
            relu: relu as u32,
            ob_first: 0,
        };
        let params = ctx.uniform("params", &p);
        let group = k.bind(
            &ctx.device,
            "conv3x3",
            &[
                &a_buf,
                b_buf.as_ref().unwrap_or(&a_buf),
                &w_buf,
                &bias_buf,
                &y,
                &params,
            ],
        );
        run(&ctx, |pass| k.record(pass, &group, &p));
        let got = unpack_activation(&ctx.read::<f32>(&y).unwrap(), n, co, h, w);
        assert_close(
            &format!("conv3x3 {variant:?} n={n} ca={ca} cb={cb} co={co} {h}x{w} relu={relu}"),
            &expected.data,
            &got.data,
        );
    }
}

#[test]
fn lavapipe_runs_the_subgroup_variant_by_default() {
    let ctx = ctx();
    if ctx.info.device_type == wgpu::DeviceType::Cpu {
        assert_eq!(ctx.variant(), Variant::Subgroup);
    }
}

#[test]
fn single_pixel_one_channel() {
    check(1, 1, 1, 0, 1, 1, 1, false);
}

#[test]
fn three_to_four_channels_odd_frame() {
    check(2, 1, 3, 0, 4, 5, 7, true);
}

#[test]
fn first_layer_one_to_sixteen() {
    check(3, 1, 1, 0, 16, 19, 21, true);
}

#[test]
fn four_to_eight_not_multiple_of_workgroup() {
    check(4, 1, 4, 0, 8, 9, 13, false);
}

#[test]
fn batch_of_two_eight_to_sixteen() {
    check(5, 2, 8, 0, 16, 17, 11, true);
}

#[test]
fn sixteen_to_sixteen() {
    check(6, 1, 16, 0, 16, 33, 31, true);
}

#[test]
fn thirty_two_to_thirty_two() {
    check(7, 1, 32, 0, 32, 12, 10, true);
}

#[test]
fn output_channels_not_multiple_of_block() {
    // co = 3 and co = 12: partial vec4 group and an odd number of vec4 groups (OB = 2).
    check(8, 1, 5, 0, 3, 6, 9, true);
    check(9, 1, 8, 0, 12, 7, 6, false);
}

#[test]
fn one_pixel_rows_and_columns() {
    check(10, 1, 4, 0, 4, 1, 17, true);
    check(11, 1, 4, 0, 4, 17, 1, true);
    check(12, 1, 2, 0, 4, 2, 2, false);
}

#[test]
fn two_inputs_concatenated() {
    check(13, 1, 8, 8, 8, 15, 9, true);
    check(14, 1, 16, 16, 16, 8, 20, true);
}

#[test]
fn two_inputs_with_padded_groups() {
    // Neither part a multiple of 4: the packing must map each lane to the right concat channel.
    check(15, 1, 3, 5, 7, 7, 6, true);
    check(16, 2, 1, 2, 5, 3, 4, false);
}

#[test]
fn two_inputs_thirty_two_each() {
    check(17, 1, 32, 32, 32, 5, 6, true);
}
