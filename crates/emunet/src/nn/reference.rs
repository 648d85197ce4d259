//! The CPU reference: plain loops over the file layouts (NCHW activations, OIHW / IOHW weights),
//! f64 accumulation, independent of the GPU packing so that a packing bug cannot hide. Names and
//! argument order follow the GPU kernels (`reference::conv3x3` ↔ `kernels::conv3x3`).

use crate::frame::Frame;
use crate::model::{Model, Normalization};

/// A dense NCHW f32 tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Batch size N.
    pub n: usize,
    /// Channels C.
    pub c: usize,
    /// Height H (pixels).
    pub h: usize,
    /// Width W (pixels).
    pub w: usize,
    /// The values, NCHW row-major (x fastest).
    pub data: Vec<f32>,
}

impl Tensor {
    /// An `[n][c][h][w]` tensor of zeros.
    pub fn zeros(n: usize, c: usize, h: usize, w: usize) -> Self {
        Tensor {
            n,
            c,
            h,
            w,
            data: vec![0.0; n * c * h * w],
        }
    }

    /// An `[n][c][h][w]` tensor holding `data`; panics unless it has `n·c·h·w` values.
    pub fn from_vec(n: usize, c: usize, h: usize, w: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), n * c * h * w, "tensor data length");
        Tensor { n, c, h, w, data }
    }

    /// The index in `data` of element (n, c, y, x).
    #[inline]
    pub fn index(&self, n: usize, c: usize, y: usize, x: usize) -> usize {
        ((n * self.c + c) * self.h + y) * self.w + x
    }

    /// The value at (n, c, y, x).
    #[inline]
    pub fn at(&self, n: usize, c: usize, y: usize, x: usize) -> f32 {
        self.data[self.index(n, c, y, x)]
    }

    /// A mutable reference to the value at (n, c, y, x).
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

/// The network input `[1][1][Hp][Wp]`: the frame normalised by `rule`, reflect-padded (bottom,
/// right, without repeating the edge pixel) up to multiples of `multiple`.
pub fn normalize(frame: &Frame, multiple: usize, rule: Normalization) -> Tensor {
    let (mean, std) = frame_stats(frame);
    let scale = 1.0 / frame.max_value() as f64;
    let median = frame_median(frame) as f64 * scale;
    let (h, w) = (frame.height, frame.width);
    let (hp, wp) = (h.next_multiple_of(multiple), w.next_multiple_of(multiple));
    let reflect = |i: usize, n: usize| if i < n { i } else { 2 * (n - 1) - i };
    let mut t = Tensor::zeros(1, 1, hp, wp);
    for y in 0..hp {
        for x in 0..wp {
            let v = frame.value(reflect(y, h) * w + reflect(x, w)) as f64 * scale;
            *t.at_mut(0, 0, y, x) = rule.apply(v, mean, std, median) as f32;
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
    let mut x = normalize(frame, 1 << d, model.normalization());
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

// ---------------------------------------------------------------------------------------------
// Backward passes (training). `dy` is the gradient of the loss with respect to an op's output.

/// The ReLU's backward: dz = dy where the forward output y > 0, else 0.
pub fn relu_mask(dy: &Tensor, y: &Tensor) -> Tensor {
    assert_eq!(dy.data.len(), y.data.len(), "relu_mask shapes");
    let data = dy
        .data
        .iter()
        .zip(&y.data)
        .map(|(&g, &v)| if v > 0.0 { g } else { 0.0 })
        .collect();
    Tensor { data, ..dy.clone() }
}

/// conv3x3's gradient with respect to its input(s): `dx[ci] = Σ w[co][ci][ky][kx] ·
/// dz[co][y − ky + 1][x − kx + 1]`; split into the first `ca` channels and the rest.
pub fn conv3x3_grad_input(
    dz: &Tensor,
    weight: &[f32],
    ca: usize,
    cb: usize,
) -> (Tensor, Option<Tensor>) {
    let (n, co, h, w) = (dz.n, dz.c, dz.h, dz.w);
    let ci = ca + cb;
    assert_eq!(weight.len(), co * ci * 9, "conv3x3 weight length");
    let mut dx = Tensor::zeros(n, ci, h, w);
    for b in 0..n {
        for c in 0..ci {
            for y in 0..h {
                for x in 0..w {
                    let mut acc = 0.0f64;
                    for o in 0..co {
                        for ky in 0..3 {
                            let oy = y as isize - ky as isize + 1;
                            if oy < 0 || oy >= h as isize {
                                continue;
                            }
                            for kx in 0..3 {
                                let ox = x as isize - kx as isize + 1;
                                if ox < 0 || ox >= w as isize {
                                    continue;
                                }
                                acc += weight[((o * ci + c) * 3 + ky) * 3 + kx] as f64
                                    * dz.at(b, o, oy as usize, ox as usize) as f64;
                            }
                        }
                    }
                    *dx.at_mut(b, c, y, x) = acc as f32;
                }
            }
        }
    }
    split_channels(dx, ca, cb)
}

fn split_channels(t: Tensor, ca: usize, cb: usize) -> (Tensor, Option<Tensor>) {
    if cb == 0 {
        return (t, None);
    }
    let plane = t.h * t.w;
    let mut a = Tensor::zeros(t.n, ca, t.h, t.w);
    let mut b = Tensor::zeros(t.n, cb, t.h, t.w);
    for n in 0..t.n {
        for c in 0..ca + cb {
            let src = &t.data[(n * (ca + cb) + c) * plane..][..plane];
            if c < ca {
                a.data[(n * ca + c) * plane..][..plane].copy_from_slice(src);
            } else {
                b.data[(n * cb + c - ca) * plane..][..plane].copy_from_slice(src);
            }
        }
    }
    (a, Some(b))
}

/// conv3x3's weight gradient, OIHW: `dw[co][ci][ky][kx] = Σ_{n,y,x} dz[co][y][x] ·
/// in[ci][y + ky − 1][x + kx − 1]` over the concatenation `[x_a, x_b]`.
pub fn conv3x3_grad_weight(x_a: &Tensor, x_b: Option<&Tensor>, dz: &Tensor) -> Vec<f32> {
    let ca = x_a.c;
    let ci = ca + x_b.map_or(0, |t| t.c);
    let (n, co, h, w) = (dz.n, dz.c, dz.h, dz.w);
    let input = |b: usize, c: usize, y: usize, x: usize| -> f64 {
        if c < ca {
            x_a.at(b, c, y, x) as f64
        } else {
            x_b.unwrap().at(b, c - ca, y, x) as f64
        }
    };
    let mut out = vec![0.0f32; co * ci * 9];
    for o in 0..co {
        for c in 0..ci {
            for ky in 0..3 {
                for kx in 0..3 {
                    let mut acc = 0.0f64;
                    for b in 0..n {
                        for y in 0..h {
                            let sy = y as isize + ky as isize - 1;
                            if sy < 0 || sy >= h as isize {
                                continue;
                            }
                            for x in 0..w {
                                let sx = x as isize + kx as isize - 1;
                                if sx < 0 || sx >= w as isize {
                                    continue;
                                }
                                acc += dz.at(b, o, y, x) as f64
                                    * input(b, c, sy as usize, sx as usize);
                            }
                        }
                    }
                    out[((o * ci + c) * 3 + ky) * 3 + kx] = acc as f32;
                }
            }
        }
    }
    out
}

/// Bias gradient of conv3x3 or upconv2x2: Σ over batch and pixels of dz per channel.
pub fn bias_grad(dz: &Tensor) -> Vec<f32> {
    (0..dz.c)
        .map(|c| {
            let mut acc = 0.0f64;
            for b in 0..dz.n {
                for y in 0..dz.h {
                    for x in 0..dz.w {
                        acc += dz.at(b, c, y, x) as f64;
                    }
                }
            }
            acc as f32
        })
        .collect()
}

/// maxpool2x2's backward: each output gradient goes to the first maximum of its window, in the
/// order (0,0), (0,1), (1,0), (1,1).
pub fn maxpool2x2_grad(x: &Tensor, dy: &Tensor) -> Tensor {
    let mut dx = Tensor::zeros(x.n, x.c, x.h, x.w);
    for b in 0..x.n {
        for c in 0..x.c {
            for y in 0..x.h / 2 {
                for xx in 0..x.w / 2 {
                    let taps = [(0, 0), (0, 1), (1, 0), (1, 1)];
                    let mut best = taps[0];
                    for &(a, bb) in &taps[1..] {
                        if x.at(b, c, 2 * y + a, 2 * xx + bb)
                            > x.at(b, c, 2 * y + best.0, 2 * xx + best.1)
                        {
                            best = (a, bb);
                        }
                    }
                    *dx.at_mut(b, c, 2 * y + best.0, 2 * xx + best.1) = dy.at(b, c, y, xx);
                }
            }
        }
    }
    dx
}

/// upconv2x2's gradient with respect to its input: `dx[ci][i][j] = Σ_{co,a,b} w[ci][co][a][b]
/// · dy[co][2i + a][2j + b]`.
pub fn upconv2x2_grad_input(dy: &Tensor, weight: &[f32], ci: usize) -> Tensor {
    let co = dy.c;
    assert_eq!(weight.len(), ci * co * 4, "upconv2x2 weight length");
    let mut dx = Tensor::zeros(dy.n, ci, dy.h / 2, dy.w / 2);
    for b in 0..dy.n {
        for c in 0..ci {
            for i in 0..dy.h / 2 {
                for j in 0..dy.w / 2 {
                    let mut acc = 0.0f64;
                    for o in 0..co {
                        for a in 0..2 {
                            for bb in 0..2 {
                                acc += weight[((c * co + o) * 2 + a) * 2 + bb] as f64
                                    * dy.at(b, o, 2 * i + a, 2 * j + bb) as f64;
                            }
                        }
                    }
                    *dx.at_mut(b, c, i, j) = acc as f32;
                }
            }
        }
    }
    dx
}

/// upconv2x2's weight gradient, IOHW: `dw[ci][co][a][b] = Σ x[ci][i][j] · dy[co][2i + a][2j +
/// b]`.
pub fn upconv2x2_grad_weight(x: &Tensor, dy: &Tensor) -> Vec<f32> {
    let (ci, co) = (x.c, dy.c);
    let mut out = vec![0.0f32; ci * co * 4];
    for c in 0..ci {
        for o in 0..co {
            for a in 0..2 {
                for bb in 0..2 {
                    let mut acc = 0.0f64;
                    for b in 0..x.n {
                        for i in 0..x.h {
                            for j in 0..x.w {
                                acc += x.at(b, c, i, j) as f64
                                    * dy.at(b, o, 2 * i + a, 2 * j + bb) as f64;
                            }
                        }
                    }
                    out[((c * co + o) * 2 + a) * 2 + bb] = acc as f32;
                }
            }
        }
    }
    out
}

/// The head's logits: 1×1 conv C → 1 + bias, `[N][1][H][W]` (training works on logits).
pub fn head1x1_logits(x: &Tensor, weight: &[f32], bias: f32) -> Tensor {
    let mut out = Tensor::zeros(x.n, 1, x.h, x.w);
    for b in 0..x.n {
        for y in 0..x.h {
            for xx in 0..x.w {
                let mut acc = bias as f64;
                for (c, &wc) in weight.iter().enumerate() {
                    acc += wc as f64 * x.at(b, c, y, xx) as f64;
                }
                *out.at_mut(b, 0, y, xx) = acc as f32;
            }
        }
    }
    out
}

/// The head's backward from the logits' gradient: (dx, dw, db).
pub fn head1x1_grad(x: &Tensor, weight: &[f32], dlogit: &Tensor) -> (Tensor, Vec<f32>, f32) {
    let mut dx = Tensor::zeros(x.n, x.c, x.h, x.w);
    let mut dw = vec![0.0f64; x.c];
    let mut db = 0.0f64;
    for b in 0..x.n {
        for y in 0..x.h {
            for xx in 0..x.w {
                let g = dlogit.at(b, 0, y, xx) as f64;
                db += g;
                for (c, &wc) in weight.iter().enumerate() {
                    *dx.at_mut(b, c, y, xx) = (wc as f64 * g) as f32;
                    dw[c] += g * x.at(b, c, y, xx) as f64;
                }
            }
        }
    }
    (dx, dw.iter().map(|&v| v as f32).collect(), db as f32)
}

/// Loss settings: binary cross-entropy on logits with a positive-class weight, plus an optional
/// soft-Jaccard term.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossParams {
    /// Weight of the positive (cluster) pixels' BCE term, against class imbalance.
    pub pos_weight: f32,
    /// Weight of the soft-Jaccard term (0 leaves it out).
    pub jaccard_weight: f32,
}

/// The loss of logits `z` against targets `t` (0 or 1), and dloss/dz. BCE is averaged over all
/// pixels; the soft Jaccard term is 1 − (Σpt + 1)/(Σp + Σt − Σpt + 1) over the whole batch.
pub fn loss(z: &[f32], t: &[f32], params: LossParams) -> (f64, Vec<f32>) {
    let n = z.len() as f64;
    let pw = params.pos_weight as f64;
    let mut bce = 0.0;
    let mut grad = vec![0.0f64; z.len()];
    let (mut spt, mut sp, mut st) = (0.0, 0.0, 0.0);
    for i in 0..z.len() {
        let (zi, ti) = (z[i] as f64, t[i] as f64);
        // log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z), both stable.
        let softplus = |v: f64| v.max(0.0) + (-v.abs()).exp().ln_1p();
        bce += pw * ti * softplus(-zi) + (1.0 - ti) * softplus(zi);
        let p = sigmoid(zi);
        grad[i] = (pw * ti * (p - 1.0) + (1.0 - ti) * p) / n;
        spt += p * ti;
        sp += p;
        st += ti;
    }
    let mut total = bce / n;
    if params.jaccard_weight != 0.0 {
        let lam = params.jaccard_weight as f64;
        let (inter, union) = (spt + 1.0, sp + st - spt + 1.0);
        total += lam * (1.0 - inter / union);
        for i in 0..z.len() {
            let (p, ti) = (sigmoid(z[i] as f64), t[i] as f64);
            // d(inter/union)/dp = (t·union − inter·(1 − t)) / union²
            let dj = (ti * union - inter * (1.0 - ti)) / (union * union);
            grad[i] += -lam * dj * p * (1.0 - p);
        }
    }
    (total, grad.iter().map(|&g| g as f32).collect())
}

/// Adam settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamParams {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first-moment (mean) estimate.
    pub beta1: f32,
    /// Decay of the second-moment (uncentred variance) estimate.
    pub beta2: f32,
    /// Added to the root of the second moment to keep the step finite.
    pub eps: f32,
    /// Decoupled weight decay: the fraction of the weight removed per unit of `lr`.
    pub weight_decay: f32,
}

impl Default for AdamParams {
    fn default() -> Self {
        AdamParams {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// One bias-corrected Adam step (`step` counts from 1), decoupled weight decay (AdamW).
pub fn adam(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], step: u32, p: AdamParams) {
    let (b1, b2) = (p.beta1 as f64, p.beta2 as f64);
    let c1 = 1.0 - b1.powi(step as i32);
    let c2 = 1.0 - b2.powi(step as i32);
    for i in 0..w.len() {
        let gi = g[i] as f64;
        let mi = b1 * m[i] as f64 + (1.0 - b1) * gi;
        let vi = b2 * v[i] as f64 + (1.0 - b2) * gi * gi;
        m[i] = mi as f32;
        v[i] = vi as f32;
        let update =
            (mi / c1) / ((vi / c2).sqrt() + p.eps as f64) + p.weight_decay as f64 * w[i] as f64;
        w[i] = (w[i] as f64 - p.lr as f64 * update) as f32;
    }
}

/// Every activation of a training forward pass that the backward pass needs.
pub struct TrainActivations {
    /// Per encoder level: input, conv1 output, conv2 output (the skip).
    pub enc: Vec<(Tensor, Tensor, Tensor)>,
    /// Bottleneck input (last pooled tensor), conv1 and conv2 outputs.
    pub bottleneck: (Tensor, Tensor, Tensor),
    /// Per decoder level l (indexed by l): up-conv input, up-conv output, conv1 and conv2 outputs.
    pub dec: Vec<(Tensor, Tensor, Tensor, Tensor)>,
    /// Head output before the sigmoid, `[N][1][H][W]`.
    pub logits: Tensor,
}

/// The training forward pass of UNet(D, C) on an already normalised batch `[N][1][H][W]`
/// (H, W multiples of 2^D), keeping the activations.
pub fn unet_train_forward(model: &Model, x: &Tensor) -> TrainActivations {
    let d = model.depth;
    let p = |name: String| model.tensor(&name);
    let conv = |x: &Tensor, skip: Option<&Tensor>, name: &str| match skip {
        Some(s) => conv3x3(
            s,
            Some(x),
            p(format!("{name}.weight")),
            p(format!("{name}.bias")),
            true,
        ),
        None => conv3x3(
            x,
            None,
            p(format!("{name}.weight")),
            p(format!("{name}.bias")),
            true,
        ),
    };
    let mut enc = Vec::new();
    let mut input = x.clone();
    for l in 0..d {
        let a1 = conv(&input, None, &format!("enc{l}.conv1"));
        let s = conv(&a1, None, &format!("enc{l}.conv2"));
        let pooled = maxpool2x2(&s);
        enc.push((input, a1, s));
        input = pooled;
    }
    let b1 = conv(&input, None, "bottleneck.conv1");
    let b2 = conv(&b1, None, "bottleneck.conv2");
    let mut dec: Vec<Option<(Tensor, Tensor, Tensor, Tensor)>> = (0..d).map(|_| None).collect();
    let mut prev = b2.clone();
    for l in (0..d).rev() {
        let u = upconv2x2(
            &prev,
            p(format!("dec{l}.up.weight")),
            p(format!("dec{l}.up.bias")),
        );
        let d1 = conv(&u, Some(&enc[l].2), &format!("dec{l}.conv1"));
        let d2 = conv(&d1, None, &format!("dec{l}.conv2"));
        dec[l] = Some((prev, u, d1, d2.clone()));
        prev = d2;
    }
    let logits = head1x1_logits(
        &prev,
        model.tensor("head.weight"),
        model.tensor("head.bias")[0],
    );
    TrainActivations {
        enc,
        bottleneck: (input, b1, b2),
        dec: dec.into_iter().map(|v| v.expect("every level")).collect(),
        logits,
    }
}

/// The loss of a batch and the gradient of every weight tensor (file names and layouts).
pub fn unet_grad(
    model: &Model,
    acts: &TrainActivations,
    target: &[f32],
    params: LossParams,
) -> (f64, std::collections::BTreeMap<String, Vec<f32>>) {
    let d = model.depth;
    let w = |name: &str| model.tensor(name);
    let mut grads = std::collections::BTreeMap::new();
    let (value, dlogit) = loss(&acts.logits.data, target, params);
    let dlogit = Tensor {
        data: dlogit,
        ..acts.logits.clone()
    };
    let (mut grad, dw, db) = head1x1_grad(&acts.dec[0].3, w("head.weight"), &dlogit);
    grads.insert("head.weight".to_string(), dw);
    grads.insert("head.bias".to_string(), vec![db]);
    // Backward through one conv (+ ReLU): records its weight and bias gradients, returns dz.
    let mut conv_back =
        |name: &str, out: &Tensor, dout: &Tensor, x_a: &Tensor, x_b: Option<&Tensor>| {
            let dz = relu_mask(dout, out);
            grads.insert(format!("{name}.weight"), conv3x3_grad_weight(x_a, x_b, &dz));
            grads.insert(format!("{name}.bias"), bias_grad(&dz));
            dz
        };
    let mut skip_grads: Vec<Option<Tensor>> = (0..d).map(|_| None).collect();
    let mut up_grads = Vec::new();
    for (l, skip_grad) in skip_grads.iter_mut().enumerate() {
        let (prev, u, d1, d2) = &acts.dec[l];
        let skip = &acts.enc[l].2;
        let dz2 = conv_back(&format!("dec{l}.conv2"), d2, &grad, d1, None);
        let (dd1, _) = conv3x3_grad_input(&dz2, w(&format!("dec{l}.conv2.weight")), d1.c, 0);
        let dz1 = conv_back(&format!("dec{l}.conv1"), d1, &dd1, skip, Some(u));
        let (dskip, du) = conv3x3_grad_input(&dz1, w(&format!("dec{l}.conv1.weight")), skip.c, u.c);
        let du = du.expect("two inputs");
        *skip_grad = Some(dskip);
        up_grads.push((
            format!("dec{l}.up"),
            upconv2x2_grad_weight(prev, &du),
            bias_grad(&du),
        ));
        grad = upconv2x2_grad_input(&du, w(&format!("dec{l}.up.weight")), prev.c);
    }
    let (b_in, b1, b2) = &acts.bottleneck;
    let dz2 = conv_back("bottleneck.conv2", b2, &grad, b1, None);
    let (db1, _) = conv3x3_grad_input(&dz2, w("bottleneck.conv2.weight"), b1.c, 0);
    let dz1 = conv_back("bottleneck.conv1", b1, &db1, b_in, None);
    let (mut dpool, _) = conv3x3_grad_input(&dz1, w("bottleneck.conv1.weight"), b_in.c, 0);
    for l in (0..d).rev() {
        let (input, a1, s) = &acts.enc[l];
        let mut ds = maxpool2x2_grad(s, &dpool);
        for (v, extra) in ds
            .data
            .iter_mut()
            .zip(&skip_grads[l].as_ref().expect("decoder ran").data)
        {
            *v += extra;
        }
        let dz2 = conv_back(&format!("enc{l}.conv2"), s, &ds, a1, None);
        let (da1, _) = conv3x3_grad_input(&dz2, w(&format!("enc{l}.conv2.weight")), a1.c, 0);
        let dz1 = conv_back(&format!("enc{l}.conv1"), a1, &da1, input, None);
        if l > 0 {
            dpool = conv3x3_grad_input(&dz1, w(&format!("enc{l}.conv1.weight")), input.c, 0).0;
        }
    }
    for (name, dw, db) in up_grads {
        grads.insert(format!("{name}.weight"), dw);
        grads.insert(format!("{name}.bias"), db);
    }
    (value, grads)
}
