//! Every backward kernel on the GPU against the CPU reference on random inputs, several shapes
//! each (odd sizes, 1 and many channels, batches), outputs poisoned before each run; both weight
//! variants where the adapter has subgroups; the reductions are deterministic (same bits twice).

use crate::common::*;
use emunet::kernels::*;
use emunet::layout::*;
use emunet::reference::{self, Tensor};
use rand::RngExt;

fn variants(ctx: &emunet::Context) -> Vec<Variant> {
    [Variant::Direct, Variant::Subgroup]
        .into_iter()
        .filter(|v| v.supported(ctx.features, &ctx.info))
        .collect()
}

/// A forward output with about a third of its entries ≤ 0 (the ReLU mask closes those).
fn relu_output(rng: &mut impl rand::Rng, n: usize, c: usize, h: usize, w: usize) -> Tensor {
    let mut t = random_tensor(rng, n, c, h, w);
    for v in t.data.iter_mut() {
        if *v < -0.3 {
            *v = 0.0;
        }
    }
    t
}

#[allow(clippy::too_many_arguments)]
fn conv_grad_input(seed: u64, n: usize, ca: usize, cb: usize, co: usize, h: usize, w: usize) {
    let ctx = ctx();
    let mut rng = rng(seed);
    let dy = random_tensor(&mut rng, n, co, h, w);
    let y = relu_output(&mut rng, n, co, h, w);
    let weight = random_vec(&mut rng, co * (ca + cb) * 9);
    let (ea, eb) = reference::conv3x3_grad_input(&reference::relu_mask(&dy, &y), &weight, ca, cb);
    let p = Conv3x3Params {
        n: n as u32,
        h: h as u32,
        w: w as u32,
        ca4: c4(ca) as u32,
        cb4: c4(cb) as u32,
        co4: c4(co) as u32,
        relu: 1,
        ob_first: 0,
    };
    for variant in variants(&ctx) {
        let k = ctx.kernel::<Conv3x3GradInput>(variant);
        let dy_b = ctx.upload("dy", &pack_activation(&dy));
        let y_b = ctx.upload("y", &pack_activation(&y));
        let w_b = ctx.upload("w", &pack_conv3x3_weight(&weight, co, ca, cb));
        let dxa = ctx.poisoned("dx_a", n * h * w * c4(ca) * 4);
        let dxb = ctx.poisoned("dx_b", n * h * w * c4(cb).max(1) * 4);
        let params = ctx.uniform("p", &p);
        let g = k.bind(
            &ctx.device,
            "gi",
            &[
                &dy_b,
                &y_b,
                &w_b,
                &dxa,
                if cb > 0 { &dxb } else { &dxa },
                &params,
            ],
        );
        run(&ctx, |pass| k.record(pass, &g, &p));
        let got_a = unpack_activation(&ctx.read::<f32>(&dxa).unwrap(), n, ca, h, w);
        assert_close(
            &format!("conv3x3_grad_input {variant:?} n={n} ca={ca} cb={cb} co={co} {h}x{w} dx_a"),
            &ea.data,
            &got_a.data,
        );
        if let Some(eb) = &eb {
            let got_b = unpack_activation(&ctx.read::<f32>(&dxb).unwrap(), n, cb, h, w);
            assert_close(
                &format!("conv3x3_grad_input {variant:?} dx_b"),
                &eb.data,
                &got_b.data,
            );
        }
    }
}

#[test]
fn conv3x3_grad_input_shapes() {
    conv_grad_input(1, 1, 1, 0, 1, 1, 1);
    conv_grad_input(2, 1, 1, 0, 16, 9, 13); // the first layer's input gradient
    conv_grad_input(3, 2, 4, 0, 8, 7, 11);
    conv_grad_input(4, 1, 16, 0, 16, 17, 9);
    conv_grad_input(5, 1, 32, 0, 32, 6, 10);
    conv_grad_input(6, 1, 3, 5, 7, 5, 9); // decoder form, groups not multiples of 4
    conv_grad_input(7, 2, 8, 8, 8, 4, 12);
}

#[allow(clippy::too_many_arguments)]
fn conv_grad_weight(
    seed: u64,
    n: usize,
    ca: usize,
    cb: usize,
    co: usize,
    h: usize,
    w: usize,
    target: u32,
) {
    let ctx = ctx();
    let mut rng = rng(seed);
    let xa = random_tensor(&mut rng, n, ca, h, w);
    let xb = (cb > 0).then(|| random_tensor(&mut rng, n, cb, h, w));
    let dy = random_tensor(&mut rng, n, co, h, w);
    let y = relu_output(&mut rng, n, co, h, w);
    let dz = reference::relu_mask(&dy, &y);
    let ew = reference::conv3x3_grad_weight(&xa, xb.as_ref(), &dz);
    let eb = reference::bias_grad(&dz);
    let cin4 = (c4(ca) + c4(cb)) as u32;
    let rows = GradWeightParams::rows_for(n as u32, h as u32, c4(co) as u32 * cin4, target);
    let p = GradWeightParams {
        n: n as u32,
        h: h as u32,
        w: w as u32,
        ca4: c4(ca) as u32,
        cb4: c4(cb) as u32,
        co4: c4(co) as u32,
        relu: 1,
        rows,
    };
    let k = ctx.kernel::<Conv3x3GradWeight>(());
    let xa_b = ctx.upload("x_a", &pack_activation(&xa));
    let xb_b = xb.as_ref().map(|t| ctx.upload("x_b", &pack_activation(t)));
    let dy_b = ctx.upload("dy", &pack_activation(&dy));
    let y_b = ctx.upload("y", &pack_activation(&y));
    let (pw, pb) = p.partial_len();
    let part_w = ctx.poisoned("partial_w", pw as usize * 4);
    let part_b = ctx.poisoned("partial_b", pb as usize * 4);
    let gw = ctx.poisoned("grad_w", c4(co) * cin4 as usize * 36 * 4);
    let gb = ctx.poisoned("grad_b", c4(co) * 4);
    let params = ctx.uniform("p", &p);
    let g = k.bind(
        &ctx.device,
        "gw",
        &[
            &xa_b,
            xb_b.as_ref().unwrap_or(&xa_b),
            &dy_b,
            &y_b,
            &part_w,
            &part_b,
            &gw,
            &gb,
            &params,
        ],
    );
    let run_once = || {
        run(&ctx, |pass| k.record(pass, &g, &p));
        (ctx.read::<f32>(&gw).unwrap(), ctx.read::<f32>(&gb).unwrap())
    };
    let (got_w, got_b) = run_once();
    let what = format!(
        "conv3x3_grad_weight n={n} ca={ca} cb={cb} co={co} {h}x{w} ({} chunks)",
        p.chunks()
    );
    assert_close(
        &format!("{what} dw"),
        &ew,
        &unpack_conv3x3_weight(&got_w, co, ca, cb),
    );
    assert_close(&format!("{what} db"), &eb, &got_b[..co]);
    // Padded output channels get exactly zero gradient (they must stay zero under Adam).
    assert!(got_b[co..].iter().all(|&v| v == 0.0));
    let (again_w, again_b) = run_once();
    assert!(
        again_w == got_w && again_b == got_b,
        "{what}: not deterministic"
    );
}

#[test]
fn conv3x3_grad_weight_shapes() {
    conv_grad_weight(11, 1, 1, 0, 1, 1, 1, 64);
    conv_grad_weight(12, 2, 1, 0, 16, 9, 13, 64);
    conv_grad_weight(13, 1, 4, 0, 8, 7, 11, 8);
    conv_grad_weight(14, 3, 16, 0, 16, 11, 9, 512);
    conv_grad_weight(15, 1, 32, 0, 32, 6, 5, 2048);
    conv_grad_weight(16, 1, 3, 5, 7, 5, 9, 64);
    conv_grad_weight(17, 2, 8, 8, 8, 4, 12, 1);
}

fn maxpool_grad(seed: u64, n: usize, c: usize, h: usize, w: usize) {
    let ctx = ctx();
    let mut rng = rng(seed);
    let mut x = random_tensor(&mut rng, n, c, h, w);
    // Some exact ties: they must go to the first maximum, like the reference.
    for v in x.data.iter_mut().step_by(7) {
        *v = 0.5;
    }
    let dy = random_tensor(&mut rng, n, c, h / 2, w / 2);
    let expected = reference::maxpool2x2_grad(&x, &dy);
    let k = ctx.kernel::<Maxpool2x2Grad>(());
    let x_b = ctx.upload("x", &pack_activation(&x));
    let dy_b = ctx.upload("dy", &pack_activation(&dy));
    let mut p = Maxpool2x2GradParams {
        n: n as u32,
        h: h as u32,
        w: w as u32,
        c4: c4(c) as u32,
        accumulate: 0,
        _pad: [0; 3],
    };
    let dx = ctx.poisoned("dx", n * h * w * c4(c) * 4);
    let g = k.bind(
        &ctx.device,
        "mg",
        &[&x_b, &dy_b, &dx, &ctx.uniform("p", &p)],
    );
    run(&ctx, |pass| k.record(pass, &g, &p));
    let got = unpack_activation(&ctx.read::<f32>(&dx).unwrap(), n, c, h, w);
    assert_eq!(
        expected.data, got.data,
        "maxpool2x2_grad n={n} c={c} {h}x{w}"
    );
    // Accumulating onto an existing gradient (the decoder's skip gradient) adds exactly.
    let skip = random_tensor(&mut rng, n, c, h, w);
    let dx = ctx.upload("dx", &pack_activation(&skip));
    p.accumulate = 1;
    let g = k.bind(
        &ctx.device,
        "mg",
        &[&x_b, &dy_b, &dx, &ctx.uniform("p", &p)],
    );
    run(&ctx, |pass| k.record(pass, &g, &p));
    let got = unpack_activation(&ctx.read::<f32>(&dx).unwrap(), n, c, h, w);
    let sum: Vec<f32> = expected
        .data
        .iter()
        .zip(&skip.data)
        .map(|(a, b)| a + b)
        .collect();
    assert_eq!(
        sum, got.data,
        "maxpool2x2_grad accumulate n={n} c={c} {h}x{w}"
    );
}

#[test]
fn maxpool2x2_grad_shapes() {
    maxpool_grad(21, 1, 1, 2, 2);
    maxpool_grad(22, 1, 3, 4, 6);
    maxpool_grad(23, 2, 4, 10, 14);
    maxpool_grad(24, 1, 8, 18, 2);
    maxpool_grad(25, 1, 16, 34, 30);
    maxpool_grad(26, 1, 33, 6, 8);
}

fn upconv_grads(seed: u64, n: usize, ci: usize, co: usize, h: usize, w: usize) {
    let ctx = ctx();
    let mut rng = rng(seed);
    let x = random_tensor(&mut rng, n, ci, h, w);
    let dy = random_tensor(&mut rng, n, co, 2 * h, 2 * w);
    let weight = random_vec(&mut rng, ci * co * 4);
    let edx = reference::upconv2x2_grad_input(&dy, &weight, ci);
    let edw = reference::upconv2x2_grad_weight(&x, &dy);
    let edb = reference::bias_grad(&dy);
    let p = Upconv2x2Params {
        n: n as u32,
        h: h as u32,
        w: w as u32,
        ci4: c4(ci) as u32,
        co4: c4(co) as u32,
        _pad: [0; 3],
    };
    let dy_b = ctx.upload("dy", &pack_activation(&dy));
    let x_b = ctx.upload("x", &pack_activation(&x));
    let w_b = ctx.upload("w", &pack_upconv2x2_weight(&weight, ci, co));
    let params = ctx.uniform("p", &p);
    for variant in variants(&ctx) {
        let k = ctx.kernel::<Upconv2x2GradInput>(variant);
        let dx = ctx.poisoned("dx", n * h * w * c4(ci) * 4);
        let g = k.bind(&ctx.device, "ugi", &[&dy_b, &w_b, &dx, &params]);
        run(&ctx, |pass| k.record(pass, &g, &p));
        let got = unpack_activation(&ctx.read::<f32>(&dx).unwrap(), n, ci, h, w);
        assert_close(
            &format!("upconv2x2_grad_input {variant:?} n={n} ci={ci} co={co} {h}x{w}"),
            &edx.data,
            &got.data,
        );
    }
    let k = ctx.kernel::<Upconv2x2GradWeight>(());
    let gp = UpGradWeightParams {
        n: n as u32,
        h: h as u32,
        w: w as u32,
        ci4: c4(ci) as u32,
        co4: c4(co) as u32,
        rows: 2,
        _pad: [0; 2],
    };
    let (pw, pb) = gp.partial_len();
    let (part_w, part_b) = (
        ctx.poisoned("pw", pw as usize * 4),
        ctx.poisoned("pb", pb as usize * 4),
    );
    let (gw, gb) = (
        ctx.poisoned("gw", c4(co) * c4(ci) * 16 * 4),
        ctx.poisoned("gb", c4(co) * 4),
    );
    let gparams = ctx.uniform("gp", &gp);
    let g = k.bind(
        &ctx.device,
        "ugw",
        &[&x_b, &dy_b, &part_w, &part_b, &gw, &gb, &gparams],
    );
    run(&ctx, |pass| k.record(pass, &g, &gp));
    let got_w = unpack_upconv2x2_weight(&ctx.read::<f32>(&gw).unwrap(), ci, co);
    assert_close(
        &format!("upconv2x2_grad_weight n={n} ci={ci} co={co} {h}x{w}"),
        &edw,
        &got_w,
    );
    assert_close(
        &format!("upconv2x2 bias grad n={n} co={co}"),
        &edb,
        &ctx.read::<f32>(&gb).unwrap()[..co],
    );
}

#[test]
fn upconv2x2_grad_shapes() {
    upconv_grads(31, 1, 1, 1, 1, 1);
    upconv_grads(32, 1, 4, 3, 3, 5);
    upconv_grads(33, 2, 8, 4, 7, 9);
    upconv_grads(34, 1, 16, 8, 5, 3);
    upconv_grads(35, 1, 32, 16, 9, 11);
    upconv_grads(36, 1, 5, 7, 3, 3);
}

fn head_grad(seed: u64, n: usize, c: usize, h: usize, w: usize, chunk: u32) {
    let ctx = ctx();
    let mut rng = rng(seed);
    let x = random_tensor(&mut rng, n, c, h, w);
    let weight = random_vec(&mut rng, c);
    let gl = random_tensor(&mut rng, n, 1, h, w);
    let (edx, edw, edb) = reference::head1x1_grad(&x, &weight, &gl);
    let count = (n * h * w) as u32;
    let p = HeadGradParams {
        count,
        c4: c4(c) as u32,
        chunk,
        _pad: 0,
    };
    let k = ctx.kernel::<Head1x1Grad>(());
    let x_b = ctx.upload("x", &pack_activation(&x));
    let g_b = ctx.upload("g", &gl.data);
    let w_b = ctx.upload("w", &pack_head_weight(&weight));
    let dx = ctx.poisoned("dx", n * h * w * c4(c) * 4);
    let part = ctx.poisoned("partial", p.chunks() as usize * (c4(c) + 1) * 4);
    let grad = ctx.poisoned("grad_w", c4(c) * 4);
    let grad_b = ctx.poisoned("grad_b", 4);
    let params = ctx.uniform("p", &p);
    let g = k.bind(
        &ctx.device,
        "hg",
        &[&x_b, &g_b, &w_b, &dx, &part, &grad, &grad_b, &params],
    );
    run(&ctx, |pass| k.record(pass, &g, &p));
    let got_dx = unpack_activation(&ctx.read::<f32>(&dx).unwrap(), n, c, h, w);
    assert_close(
        &format!("head1x1_grad n={n} c={c} {h}x{w} dx"),
        &edx.data,
        &got_dx.data,
    );
    let got = ctx.read::<f32>(&grad).unwrap();
    assert_close(&format!("head1x1_grad c={c} dw"), &edw, &got[..c]);
    assert_close(
        "head1x1_grad db",
        &[edb],
        &ctx.read::<f32>(&grad_b).unwrap()[..1],
    );
}

#[test]
fn head1x1_grad_shapes() {
    head_grad(41, 1, 1, 1, 1, 1);
    head_grad(42, 1, 3, 5, 7, 8);
    head_grad(43, 2, 4, 8, 8, 16);
    head_grad(44, 1, 8, 9, 11, 1000);
    head_grad(45, 3, 16, 6, 5, 7);
    head_grad(46, 1, 32, 17, 3, 64);
}

fn loss_case(seed: u64, count: usize, chunk: u32, pos_weight: f32, jaccard_weight: f32) {
    let ctx = ctx();
    let mut rng = rng(seed);
    let z: Vec<f32> = (0..count).map(|_| rng.random_range(-6.0..6.0)).collect();
    let t: Vec<f32> = (0..count)
        .map(|_| if rng.random_bool(0.05) { 1.0 } else { 0.0 })
        .collect();
    let (value, grad) = reference::loss(
        &z,
        &t,
        reference::LossParams {
            pos_weight,
            jaccard_weight,
        },
    );
    let p = LossParams {
        count: count as u32,
        chunk,
        pos_weight,
        jaccard_weight,
    };
    let k = ctx.kernel::<Loss>(());
    let z_b = ctx.upload("z", &z);
    let t_b = ctx.upload("t", &t);
    let part = ctx.poisoned("chunks", p.chunks() as usize * 4);
    let sums = ctx.poisoned("sums", 8);
    let dz = ctx.poisoned("dz", count);
    let params = ctx.uniform("p", &p);
    let g = k.bind(
        &ctx.device,
        "loss",
        &[&z_b, &t_b, &part, &sums, &dz, &params],
    );
    run(&ctx, |pass| k.record(pass, &g, &p));
    let got_value = ctx.read::<f32>(&sums).unwrap()[4];
    assert!(
        ((got_value as f64) - value).abs() <= 1e-4 * value.abs().max(1e-3),
        "loss {got_value} vs {value}"
    );
    assert_close(
        &format!("loss grad count={count} pw={pos_weight} jw={jaccard_weight}"),
        &grad,
        &ctx.read::<f32>(&dz).unwrap()[..count],
    );
}

#[test]
fn loss_shapes() {
    loss_case(51, 1, 1, 1.0, 0.0);
    loss_case(52, 100, 16, 1.0, 0.0);
    loss_case(53, 1000, 64, 5.0, 0.0);
    loss_case(54, 4097, 256, 3.0, 0.5);
    loss_case(55, 65536, 1024, 10.0, 1.0);
    loss_case(56, 333, 7, 2.0, 0.2);
}

#[test]
fn adam_three_steps() {
    let ctx = ctx();
    let mut rng = rng(61);
    for count in [1usize, 5, 64, 1000, 12345] {
        let settings = reference::AdamParams {
            lr: 3e-3,
            weight_decay: 1e-4,
            ..Default::default()
        };
        let mut w = random_vec(&mut rng, count);
        let (mut m, mut v) = (vec![0.0; count], vec![0.0; count]);
        let k = ctx.kernel::<Adam>(());
        let (w_b, m_b, v_b) = (
            ctx.upload("w", &w),
            ctx.upload("m", &m),
            ctx.upload("v", &v),
        );
        for step in 1..=3 {
            let g = random_vec(&mut rng, count);
            reference::adam(&mut w, &g, &mut m, &mut v, step, settings);
            let p = AdamParams::at_step(count as u32, step, settings);
            let (g_b, params) = (ctx.upload("g", &g), ctx.uniform("p", &p));
            let bg = k.bind(&ctx.device, "adam", &[&g_b, &w_b, &m_b, &v_b, &params]);
            run(&ctx, |pass| k.record(pass, &bg, &p));
        }
        assert_close(
            &format!("adam count={count} weights after 3 steps"),
            &w,
            &ctx.read::<f32>(&w_b).unwrap()[..count],
        );
        assert_close(
            &format!("adam count={count} m"),
            &m,
            &ctx.read::<f32>(&m_b).unwrap()[..count],
        );
        assert_close(
            &format!("adam count={count} v"),
            &v,
            &ctx.read::<f32>(&v_b).unwrap()[..count],
        );
    }
}
