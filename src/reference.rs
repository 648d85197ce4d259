//! The CPU reference: plain loops over the file layouts (NCHW activations, OIHW / IOHW weights),
//! f64 accumulation, independent of the GPU packing so that a packing bug cannot hide. Names and
//! argument order follow the GPU kernels (`reference::conv3x3` ↔ `kernels::conv3x3`).

use crate::frame::Frame;
use crate::model::Model;

/// A dense NCHW f32 tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn zeros(n: usize, c: usize, h: usize, w: usize) -> Self {
        Tensor {
            n,
            c,
            h,
            w,
            data: vec![0.0; n * c * h * w],
        }
    }

    pub fn from_vec(n: usize, c: usize, h: usize, w: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), n * c * h * w, "tensor data length");
        Tensor { n, c, h, w, data }
    }

    #[inline]
    pub fn index(&self, n: usize, c: usize, y: usize, x: usize) -> usize {
        ((n * self.c + c) * self.h + y) * self.w + x
    }

    #[inline]
    pub fn at(&self, n: usize, c: usize, y: usize, x: usize) -> f32 {
        self.data[self.index(n, c, y, x)]
    }

    #[inline]
    pub fn at_mut(&mut self, n: usize, c: usize, y: usize, x: usize) -> &mut f32 {
        let i = self.index(n, c, y, x);
        &mut self.data[i]
    }
}

/// 3×3 convolution with zero "same" padding, + bias, optional ReLU, over the channel
/// concatenation `[x_a, x_b]`. `weight` is OIHW `[co][ca+cb][3][3]`.
pub fn conv3x3(
    x_a: &Tensor,
    x_b: Option<&Tensor>,
    weight: &[f32],
    bias: &[f32],
    relu: bool,
) -> Tensor {
    let (n, h, w) = (x_a.n, x_a.h, x_a.w);
    let cb = x_b.map_or(0, |b| {
        assert_eq!((b.n, b.h, b.w), (n, h, w), "conv3x3 inputs differ in shape");
        b.c
    });
    let ci = x_a.c + cb;
    let co = bias.len();
    assert_eq!(weight.len(), co * ci * 9, "conv3x3 weight length");
    let input = |b: usize, c: usize, y: usize, x: usize| -> f64 {
        if c < x_a.c {
            x_a.at(b, c, y, x) as f64
        } else {
            x_b.unwrap().at(b, c - x_a.c, y, x) as f64
        }
    };
    let mut out = Tensor::zeros(n, co, h, w);
    for b in 0..n {
        for o in 0..co {
            for y in 0..h {
                for x in 0..w {
                    let mut acc = bias[o] as f64;
                    for c in 0..ci {
                        for ky in 0..3 {
                            let sy = y as isize + ky as isize - 1;
                            if sy < 0 || sy >= h as isize {
                                continue;
                            }
                            for kx in 0..3 {
                                let sx = x as isize + kx as isize - 1;
                                if sx < 0 || sx >= w as isize {
                                    continue;
                                }
                                acc += weight[((o * ci + c) * 3 + ky) * 3 + kx] as f64
                                    * input(b, c, sy as usize, sx as usize);
                            }
                        }
                    }
                    if relu {
                        acc = acc.max(0.0);
                    }
                    *out.at_mut(b, o, y, x) = acc as f32;
                }
            }
        }
    }
    out
}

/// 2×2 max-pooling, stride 2 (H and W even).
pub fn maxpool2x2(x: &Tensor) -> Tensor {
    assert!(
        x.h.is_multiple_of(2) && x.w.is_multiple_of(2),
        "maxpool2x2 needs even sides"
    );
    let mut out = Tensor::zeros(x.n, x.c, x.h / 2, x.w / 2);
    for b in 0..x.n {
        for c in 0..x.c {
            for y in 0..x.h / 2 {
                for xx in 0..x.w / 2 {
                    let m = x
                        .at(b, c, 2 * y, 2 * xx)
                        .max(x.at(b, c, 2 * y, 2 * xx + 1))
                        .max(x.at(b, c, 2 * y + 1, 2 * xx))
                        .max(x.at(b, c, 2 * y + 1, 2 * xx + 1));
                    *out.at_mut(b, c, y, xx) = m;
                }
            }
        }
    }
    out
}

/// Transposed convolution, kernel 2, stride 2, + bias. `weight` is IOHW `[ci][co][2][2]`.
pub fn upconv2x2(x: &Tensor, weight: &[f32], bias: &[f32]) -> Tensor {
    let co = bias.len();
    assert_eq!(weight.len(), x.c * co * 4, "upconv2x2 weight length");
    let mut out = Tensor::zeros(x.n, co, 2 * x.h, 2 * x.w);
    for b in 0..x.n {
        for o in 0..co {
            for y in 0..2 * x.h {
                for xx in 0..2 * x.w {
                    let (a, bb) = (y % 2, xx % 2);
                    let mut acc = bias[o] as f64;
                    for c in 0..x.c {
                        acc += x.at(b, c, y / 2, xx / 2) as f64
                            * weight[((c * co + o) * 2 + a) * 2 + bb] as f64;
                    }
                    *out.at_mut(b, o, y, xx) = acc as f32;
                }
            }
        }
    }
    out
}

/// The head: 1×1 conv C → 1 + bias, then sigmoid; returns probabilities `[N][1][H][W]`.
pub fn head1x1(x: &Tensor, weight: &[f32], bias: f32) -> Tensor {
    assert_eq!(weight.len(), x.c, "head1x1 weight length");
    let mut out = Tensor::zeros(x.n, 1, x.h, x.w);
    for b in 0..x.n {
        for y in 0..x.h {
            for xx in 0..x.w {
                let mut logit = bias as f64;
                for (c, &wc) in weight.iter().enumerate() {
                    logit += wc as f64 * x.at(b, c, y, xx) as f64;
                }
                *out.at_mut(b, 0, y, xx) = sigmoid(logit) as f32;
            }
        }
    }
    out
}

/// The logistic function, without overflow for large |z|.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Mean and population std of p = v / max_value over the frame, in f64.
pub fn frame_stats(frame: &Frame) -> (f64, f64) {
    let scale = 1.0 / frame.max_value() as f64;
    let n = frame.len() as f64;
    let mean = (0..frame.len())
        .map(|i| frame.value(i) as f64 * scale)
        .sum::<f64>()
        / n;
    let var = (0..frame.len())
        .map(|i| {
            let d = frame.value(i) as f64 * scale - mean;
            d * d
        })
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

/// The median raw value: the ⌊(N−1)/2⌋-th smallest of the N pixel values (emulsion.md).
pub fn frame_median(frame: &Frame) -> u32 {
    let mut values: Vec<u32> = (0..frame.len()).map(|i| frame.value(i)).collect();
    let rank = (values.len() - 1) / 2;
    *values.select_nth_unstable(rank).1
}

/// The network input `[1][1][Hp][Wp]`: z-score normalised frame, reflect-padded (bottom, right,
/// without repeating the edge pixel) up to multiples of `multiple`.
pub fn normalize(frame: &Frame, multiple: usize) -> Tensor {
    let (mean, std) = frame_stats(frame);
    let scale = 1.0 / frame.max_value() as f64;
    let (h, w) = (frame.height, frame.width);
    let (hp, wp) = (h.next_multiple_of(multiple), w.next_multiple_of(multiple));
    let reflect = |i: usize, n: usize| if i < n { i } else { 2 * (n - 1) - i };
    let mut t = Tensor::zeros(1, 1, hp, wp);
    for y in 0..hp {
        for x in 0..wp {
            let v = frame.value(reflect(y, h) * w + reflect(x, w)) as f64 * scale;
            *t.at_mut(0, 0, y, x) = ((v - mean) / (std + 1e-6)) as f32;
        }
    }
    t
}

/// The whole UNet(D, C) forward on the CPU: probabilities `H × W` (row-major) of `frame`.
pub fn unet_forward(model: &Model, frame: &Frame) -> Vec<f32> {
    let d = model.depth;
    let p = |name: &str| model.tensor(name);
    let conv = |x: &Tensor, skip: Option<&Tensor>, name: &str| match skip {
        // Decoder: concatenation [skip, up], skip first.
        Some(s) => conv3x3(
            s,
            Some(x),
            p(&format!("{name}.weight")),
            p(&format!("{name}.bias")),
            true,
        ),
        None => conv3x3(
            x,
            None,
            p(&format!("{name}.weight")),
            p(&format!("{name}.bias")),
            true,
        ),
    };
    let mut x = normalize(frame, 1 << d);
    let mut skips = Vec::with_capacity(d);
    for l in 0..d {
        x = conv(&x, None, &format!("enc{l}.conv1"));
        x = conv(&x, None, &format!("enc{l}.conv2"));
        skips.push(x.clone());
        x = maxpool2x2(&x);
    }
    x = conv(&x, None, "bottleneck.conv1");
    x = conv(&x, None, "bottleneck.conv2");
    for l in (0..d).rev() {
        x = upconv2x2(
            &x,
            p(&format!("dec{l}.up.weight")),
            p(&format!("dec{l}.up.bias")),
        );
        x = conv(&x, Some(&skips[l]), &format!("dec{l}.conv1"));
        x = conv(&x, None, &format!("dec{l}.conv2"));
    }
    let prob = head1x1(&x, p("head.weight"), p("head.bias")[0]);
    let (h, w) = (frame.height, frame.width);
    let mut out = Vec::with_capacity(h * w);
    for y in 0..h {
        out.extend_from_slice(&prob.data[y * prob.w..y * prob.w + w]);
    }
    out
}
