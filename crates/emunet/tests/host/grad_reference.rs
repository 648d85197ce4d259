//! The CPU reference of every backward op, and of the whole UNet(2,4) loss, against central
//! finite differences. CPU only.

use crate::common::{random_tensor, random_vec, rng};
use emunet::Model;
use emunet::reference::{self, LossParams, Tensor};
use rand::RngExt;

/// Σ r · f(·) for a fixed random projection r: a scalar whose gradient w.r.t. f's output is r.
fn project(t: &Tensor, r: &[f32]) -> f64 {
    t.data
        .iter()
        .zip(r)
        .map(|(&a, &b)| a as f64 * b as f64)
        .sum()
}

/// Checks `analytic[i]` against the central difference of `f` at a few indices of `x`.
fn check_fd(
    what: &str,
    x: &mut [f32],
    analytic: &[f32],
    eps: f32,
    f: &mut dyn FnMut(&[f32]) -> f64,
) {
    let mut r = rng(99);
    let picks: Vec<usize> = (0..12.min(x.len()))
        .map(|_| r.random_range(0..x.len()))
        .collect();
    for i in picks {
        let keep = x[i];
        x[i] = keep + eps;
        let up = f(x);
        x[i] = keep - eps;
        let down = f(x);
        x[i] = keep;
        let fd = (up - down) / (2.0 * (eps as f64));
        let a = analytic[i] as f64;
        assert!(
            (fd - a).abs() <= 2e-3 * (1.0 + a.abs()),
            "{what}[{i}]: finite difference {fd} vs analytic {a}"
        );
    }
    println!("{what}: OK");
}

#[test]
fn conv3x3_input_weight_bias_gradients() {
    let mut g = rng(1);
    let (n, ca, cb, co, h, w) = (2, 3, 2, 4, 5, 6);
    let xa = random_tensor(&mut g, n, ca, h, w);
    let xb = random_tensor(&mut g, n, cb, h, w);
    let weight = random_vec(&mut g, co * (ca + cb) * 9);
    let bias = random_vec(&mut g, co);
    let r = random_vec(&mut g, n * co * h * w);
    // Without ReLU the conv is linear: the projection's gradient w.r.t. the output is r.
    let dz = Tensor::from_vec(n, co, h, w, r.clone());
    let (dxa, dxb) = reference::conv3x3_grad_input(&dz, &weight, ca, cb);
    let dw = reference::conv3x3_grad_weight(&xa, Some(&xb), &dz);
    let db = reference::bias_grad(&dz);
    let loss = |xa: &Tensor, xb: &Tensor, w: &[f32], b: &[f32]| {
        project(&reference::conv3x3(xa, Some(xb), w, b, false), &r)
    };
    let mut xa_data = xa.data.clone();
    check_fd("conv3x3 dx_a", &mut xa_data, &dxa.data, 0.5, &mut |v| {
        loss(
            &Tensor::from_vec(n, ca, h, w, v.to_vec()),
            &xb,
            &weight,
            &bias,
        )
    });
    let mut xb_data = xb.data.clone();
    check_fd(
        "conv3x3 dx_b",
        &mut xb_data,
        &dxb.unwrap().data,
        0.5,
        &mut |v| {
            loss(
                &xa,
                &Tensor::from_vec(n, cb, h, w, v.to_vec()),
                &weight,
                &bias,
            )
        },
    );
    let mut wd = weight.clone();
    check_fd("conv3x3 dw", &mut wd, &dw, 0.5, &mut |v| {
        loss(&xa, &xb, v, &bias)
    });
    let mut bd = bias.clone();
    check_fd("conv3x3 db", &mut bd, &db, 0.5, &mut |v| {
        loss(&xa, &xb, &weight, v)
    });
}

#[test]
fn relu_mask_routes_gradient_through_positive_outputs() {
    let y = Tensor::from_vec(1, 1, 1, 4, vec![0.0, 2.0, -0.0, 0.5]);
    let dy = Tensor::from_vec(1, 1, 1, 4, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(reference::relu_mask(&dy, &y).data, vec![0.0, 2.0, 0.0, 4.0]);
}

#[test]
fn maxpool2x2_gradient() {
    let mut g = rng(2);
    let x = random_tensor(&mut g, 2, 3, 6, 4);
    let r = random_vec(&mut g, 2 * 3 * 3 * 2);
    let dx = reference::maxpool2x2_grad(&x, &Tensor::from_vec(2, 3, 3, 2, r.clone()));
    let mut xd = x.data.clone();
    // Small steps keep each window's maximum in place.
    check_fd("maxpool2x2 dx", &mut xd, &dx.data, 1e-3, &mut |v| {
        project(
            &reference::maxpool2x2(&Tensor::from_vec(2, 3, 6, 4, v.to_vec())),
            &r,
        )
    });
    // Ties go to the first maximum in raster order.
    let tie = Tensor::from_vec(1, 1, 2, 2, vec![1.0, 1.0, 1.0, 1.0]);
    let dx = reference::maxpool2x2_grad(&tie, &Tensor::from_vec(1, 1, 1, 1, vec![5.0]));
    assert_eq!(dx.data, vec![5.0, 0.0, 0.0, 0.0]);
}

#[test]
fn upconv2x2_gradients() {
    let mut g = rng(3);
    let (n, ci, co, h, w) = (2, 5, 3, 3, 4);
    let x = random_tensor(&mut g, n, ci, h, w);
    let weight = random_vec(&mut g, ci * co * 4);
    let bias = random_vec(&mut g, co);
    let r = random_vec(&mut g, n * co * 4 * h * w);
    let dy = Tensor::from_vec(n, co, 2 * h, 2 * w, r.clone());
    let dx = reference::upconv2x2_grad_input(&dy, &weight, ci);
    let dw = reference::upconv2x2_grad_weight(&x, &dy);
    let db = reference::bias_grad(&dy);
    let loss = |x: &Tensor, w: &[f32], b: &[f32]| project(&reference::upconv2x2(x, w, b), &r);
    let mut xd = x.data.clone();
    check_fd("upconv2x2 dx", &mut xd, &dx.data, 0.5, &mut |v| {
        loss(&Tensor::from_vec(n, ci, h, w, v.to_vec()), &weight, &bias)
    });
    let mut wd = weight.clone();
    check_fd("upconv2x2 dw", &mut wd, &dw, 0.5, &mut |v| {
        loss(&x, v, &bias)
    });
    let mut bd = bias.clone();
    check_fd("upconv2x2 db", &mut bd, &db, 0.5, &mut |v| {
        loss(&x, &weight, v)
    });
}

#[test]
fn head_gradients() {
    let mut g = rng(4);
    let x = random_tensor(&mut g, 2, 6, 3, 5);
    let weight = random_vec(&mut g, 6);
    let r = random_vec(&mut g, 2 * 3 * 5);
    let (dx, dw, db) =
        reference::head1x1_grad(&x, &weight, &Tensor::from_vec(2, 1, 3, 5, r.clone()));
    let loss = |x: &Tensor, w: &[f32], b: f32| project(&reference::head1x1_logits(x, w, b), &r);
    let mut xd = x.data.clone();
    check_fd("head dx", &mut xd, &dx.data, 0.5, &mut |v| {
        loss(&Tensor::from_vec(2, 6, 3, 5, v.to_vec()), &weight, 0.3)
    });
    let mut wd = weight.clone();
    check_fd("head dw", &mut wd, &dw, 0.5, &mut |v| loss(&x, v, 0.3));
    let mut bd = vec![0.3f32];
    check_fd("head db", &mut bd, &[db], 0.5, &mut |v| {
        loss(&x, &weight, v[0])
    });
}

#[test]
fn loss_gradient_with_and_without_jaccard() {
    let mut g = rng(5);
    let z: Vec<f32> = (0..200).map(|_| g.random_range(-4.0..4.0)).collect();
    let t: Vec<f32> = (0..200)
        .map(|_| if g.random_bool(0.1) { 1.0 } else { 0.0 })
        .collect();
    for params in [
        LossParams {
            pos_weight: 1.0,
            jaccard_weight: 0.0,
        },
        LossParams {
            pos_weight: 5.0,
            jaccard_weight: 0.5,
        },
    ] {
        let (_, grad) = reference::loss(&z, &t, params);
        let mut zd = z.clone();
        check_fd(
            &format!("loss {params:?}"),
            &mut zd,
            &grad,
            1e-3,
            &mut |v| reference::loss(v, &t, params).0,
        );
    }
    // A confident correct prediction costs ~0; extreme logits stay finite.
    let (l, _) = reference::loss(
        &[40.0, -40.0],
        &[1.0, 0.0],
        LossParams {
            pos_weight: 3.0,
            jaccard_weight: 0.0,
        },
    );
    assert!(l.is_finite() && l < 1e-12);
}

#[test]
fn adam_matches_the_textbook_first_step() {
    let (mut w, g) = (vec![1.0f32, -2.0], vec![0.5f32, -0.25]);
    let (mut m, mut v) = (vec![0.0; 2], vec![0.0; 2]);
    let p = reference::AdamParams {
        lr: 0.1,
        ..Default::default()
    };
    reference::adam(&mut w, &g, &mut m, &mut v, 1, p);
    // After bias correction the first step is lr · sign(g) (up to eps).
    assert!(
        (w[0] - 0.9).abs() < 1e-6 && (w[1] + 1.9).abs() < 1e-6,
        "{w:?}"
    );
    assert!((m[0] - 0.05).abs() < 1e-6 * 0.05 && (v[0] - 0.00025).abs() < 1e-4 * 0.00025);
}

#[test]
fn whole_unet_2_4_loss_gradient() {
    let mut model = Model::init_he(2, 4, 6).unwrap();
    let mut g = rng(6);
    for (name, (_, values)) in model.tensors.iter_mut() {
        if name.ends_with(".bias") {
            for v in values.iter_mut() {
                *v = g.random_range(0.05..0.2); // positive biases keep most ReLUs open
            }
        }
    }
    let x = random_tensor(&mut g, 2, 1, 8, 12);
    let target: Vec<f32> = (0..2 * 8 * 12)
        .map(|_| if g.random_bool(0.2) { 1.0 } else { 0.0 })
        .collect();
    let params = LossParams {
        pos_weight: 3.0,
        jaccard_weight: 0.3,
    };
    let acts = reference::unet_train_forward(&model, &x);
    let (value, grads) = reference::unet_grad(&model, &acts, &target, params);
    assert!(value.is_finite());
    assert_eq!(
        grads.len(),
        model.tensors.len(),
        "a gradient for every tensor"
    );
    let names: Vec<String> = model.tensors.keys().cloned().collect();
    for name in names {
        let analytic = grads[&name].clone();
        let mut values = model.tensor(&name).to_vec();
        let mut m = model.clone();
        check_fd(
            &format!("UNet(2,4) d/d {name}"),
            &mut values,
            &analytic,
            1e-3,
            &mut |v| {
                *m.tensor_mut(&name) = v.to_vec();
                let a = reference::unet_train_forward(&m, &x);
                reference::loss(&a.logits.data, &target, params).0
            },
        );
    }
}
