//! Training on the GPU: the whole step — forward with every activation kept, loss, backward,
//! Adam — recorded once per (model, batch shape) and submitted once per step. Gradients are
//! fixed-order reductions (no float atomics), so a step is deterministic on a given adapter.
//!
//! Weights, gradients and Adam moments live on the GPU in the kernels' packed layouts (zero
//! padding stays exactly zero: zero weights get zero gradients); [`GpuTrainer::model`] unpacks
//! them into the file layout.

use crate::error::{Error, Result};
use crate::gpu::{Context, read_mapped};
use crate::kernels::*;
use crate::layout::{self, c4};
use crate::model::{Model, level_channels};
use crate::reference::{AdamParams as AdamSettings, LossParams as LossSettings};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a parameter tensor is packed on the GPU.
#[derive(Clone, Copy, Debug)]
enum Packing {
    /// conv3x3 weight `[co][ca+cb][3][3]`.
    Conv { co: usize, ca: usize, cb: usize },
    /// upconv2x2 weight `[ci][co][2][2]`.
    Up { ci: usize, co: usize },
    /// A vector (bias, head weight), zero-padded to a multiple of 4.
    Vector { len: usize },
}

impl Packing {
    fn pack(self, values: &[f32]) -> Vec<f32> {
        match self {
            Packing::Conv { co, ca, cb } => layout::pack_conv3x3_weight(values, co, ca, cb),
            Packing::Up { ci, co } => layout::pack_upconv2x2_weight(values, ci, co),
            Packing::Vector { .. } => layout::pack_bias(values),
        }
    }

    fn unpack(self, packed: &[f32]) -> Vec<f32> {
        match self {
            Packing::Conv { co, ca, cb } => layout::unpack_conv3x3_weight(packed, co, ca, cb),
            Packing::Up { ci, co } => layout::unpack_upconv2x2_weight(packed, ci, co),
            Packing::Vector { len } => packed[..len].to_vec(),
        }
    }
}

/// One trainable tensor on the GPU with its gradient and Adam moments.
struct Param {
    name: String,
    packing: Packing,
    weight: wgpu::Buffer,
    grad: wgpu::Buffer,
    m: wgpu::Buffer,
    v: wgpu::Buffer,
    adam_params: wgpu::Buffer,
    count: u32,
}

/// Adam's moments of every tensor: (name, m, v), in the packed GPU layout.
pub type Moments = Vec<(String, Vec<f32>, Vec<f32>)>;

/// The kernels of a training step, compiled for the context's variant (or taken from its cache).
struct TrainKernels {
    conv3x3: Arc<Compiled<Conv3x3>>,
    maxpool2x2: Arc<Compiled<Maxpool2x2>>,
    upconv2x2: Arc<Compiled<Upconv2x2>>,
    head1x1: Arc<Compiled<Head1x1>>,
    conv_grad_input: Arc<Compiled<Conv3x3GradInput>>,
    conv_grad_weight: Arc<Compiled<Conv3x3GradWeight>>,
    pool_grad: Arc<Compiled<Maxpool2x2Grad>>,
    up_grad_input: Arc<Compiled<Upconv2x2GradInput>>,
    up_grad_weight: Arc<Compiled<Upconv2x2GradWeight>>,
    head_grad: Arc<Compiled<Head1x1Grad>>,
    loss: Arc<Compiled<Loss>>,
    adam: Arc<Compiled<Adam>>,
}

impl TrainKernels {
    fn new(ctx: &Context) -> Self {
        let variant = ctx.variant();
        TrainKernels {
            conv3x3: ctx.kernel::<Conv3x3>(Conv3x3Config::buffers(variant)),
            maxpool2x2: ctx.kernel::<Maxpool2x2>(Storage::Buffers),
            upconv2x2: ctx.kernel::<Upconv2x2>(Upconv2x2Config::buffers(variant)),
            head1x1: ctx.kernel::<Head1x1>(()),
            conv_grad_input: ctx.kernel::<Conv3x3GradInput>(variant),
            conv_grad_weight: ctx.kernel::<Conv3x3GradWeight>(()),
            pool_grad: ctx.kernel::<Maxpool2x2Grad>(()),
            up_grad_input: ctx.kernel::<Upconv2x2GradInput>(variant),
            up_grad_weight: ctx.kernel::<Upconv2x2GradWeight>(()),
            head_grad: ctx.kernel::<Head1x1Grad>(()),
            loss: ctx.kernel::<Loss>(()),
            adam: ctx.kernel::<Adam>(()),
        }
    }
}

/// Partial-sum invocations the weight-gradient reductions aim for (enough parallel work).
const REDUCTION_TARGET: u32 = 2048;

/// UNet(D, C) training on the GPU for batches of `batch` × `height` × `width`.
pub struct GpuTrainer {
    ctx: Arc<Context>,
    /// The model's depth D.
    pub depth: usize,
    /// The model's base channel count C.
    pub channels: usize,
    /// Crops per training step.
    pub batch: usize,
    /// Crop height (pixels, a multiple of 2^D).
    pub height: usize,
    /// Crop width (pixels, a multiple of 2^D).
    pub width: usize,
    /// Loss weights, fixed into the plan when the trainer is built.
    pub loss: LossSettings,
    /// Adam settings, read at every step ([`GpuTrainer::set_lr`] changes the rate).
    pub adam: AdamSettings,
    /// Adam steps taken so far.
    pub step: u32,
    metadata: BTreeMap<String, String>,
    threshold: f32,
    params: Vec<Param>,
    input: wgpu::Buffer,
    target: wgpu::Buffer,
    sums: wgpu::Buffer,
    sums_staging: wgpu::Buffer,
    /// Every dispatch of a step, in order.
    ops: Vec<Dispatch>,
    // Activations, gradients and partial sums stay alive with the bind groups that use them.
    _buffers: Vec<wgpu::Buffer>,
}

impl GpuTrainer {
    /// Uploads `model` and plans every buffer and dispatch of a training step.
    pub fn new(
        ctx: Arc<Context>,
        model: &Model,
        batch: usize,
        height: usize,
        width: usize,
        loss: LossSettings,
        adam: AdamSettings,
    ) -> Result<Self> {
        let m = 1 << model.depth;
        if batch == 0
            || height < m
            || width < m
            || !height.is_multiple_of(m)
            || !width.is_multiple_of(m)
        {
            return Err(Error::Shape(format!(
                "training crops must be multiples of 2^D = {m} (got {width}×{height}, batch {batch})"
            )));
        }
        let mut t = GpuTrainer {
            input: ctx.storage("train.input", (batch * height * width * 16) as u64),
            target: ctx.storage("train.target", (batch * height * width * 4) as u64),
            sums: ctx.storage("train.loss.sums", 32),
            sums_staging: ctx.staging("train.loss.staging", 32),
            depth: model.depth,
            channels: model.channels,
            batch,
            height,
            width,
            loss,
            adam,
            step: 0,
            metadata: model.metadata.clone(),
            threshold: model.threshold,
            params: Vec::new(),
            ops: Vec::new(),
            _buffers: Vec::new(),
            ctx,
        };
        t.upload_params(model);
        t.plan()?;
        Ok(t)
    }

    fn upload_params(&mut self, model: &Model) {
        let (d, c) = (self.depth, self.channels);
        let mut add = |name: String, packing: Packing| {
            let packed = packing.pack(model.tensor(&name));
            let zeros = vec![0.0f32; packed.len()];
            let ctx = &self.ctx;
            self.params.push(Param {
                weight: ctx.upload(&name, &packed),
                grad: ctx.upload(&format!("{name}.grad"), &zeros),
                m: ctx.upload(&format!("{name}.adam_m"), &zeros),
                v: ctx.upload(&format!("{name}.adam_v"), &zeros),
                adam_params: ctx.uniform(&format!("{name}.adam"), &AdamParams::default()),
                count: packed.len() as u32,
                name,
                packing,
            });
        };
        let conv = |add: &mut dyn FnMut(String, Packing), name: String, ca, cb, co| {
            add(format!("{name}.weight"), Packing::Conv { co, ca, cb });
            add(format!("{name}.bias"), Packing::Vector { len: co });
        };
        let mut ci = 1;
        for l in 0..d {
            let cl = level_channels(c, l);
            conv(&mut add, format!("enc{l}.conv1"), ci, 0, cl);
            conv(&mut add, format!("enc{l}.conv2"), cl, 0, cl);
            ci = cl;
        }
        let cb = level_channels(c, d);
        conv(&mut add, "bottleneck.conv1".into(), ci, 0, cb);
        conv(&mut add, "bottleneck.conv2".into(), cb, 0, cb);
        for l in (0..d).rev() {
            let cl = level_channels(c, l);
            add(
                format!("dec{l}.up.weight"),
                Packing::Up { ci: 2 * cl, co: cl },
            );
            add(format!("dec{l}.up.bias"), Packing::Vector { len: cl });
            conv(&mut add, format!("dec{l}.conv1"), cl, cl, cl);
            conv(&mut add, format!("dec{l}.conv2"), cl, 0, cl);
        }
        add("head.weight".into(), Packing::Vector { len: c });
        add("head.bias".into(), Packing::Vector { len: 1 });
    }

    fn param(&self, name: &str) -> &Param {
        self.params
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("trainer has no parameter {name}"))
    }

    /// A zero-filled activation or gradient buffer of `c` channels at level `l`.
    fn tensor(&mut self, label: String, l: usize, c: usize) -> wgpu::Buffer {
        let px = self.batch * (self.height >> l) * (self.width >> l);
        let b = self.ctx.storage(&label, (px * c4(c) * 16) as u64);
        self._buffers.push(b.clone());
        b
    }

    fn plan(&mut self) -> Result<()> {
        let (d, c, n) = (self.depth, self.channels, self.batch as u32);
        let ch = |l: usize| level_channels(c, l);
        let (height, width) = (self.height, self.width);
        let hl = |l: usize| (height >> l) as u32;
        let wl = |l: usize| (width >> l) as u32;
        // Forward activations.
        let mut ins = vec![self.input.clone()];
        let (mut a1, mut s) = (Vec::new(), Vec::new());
        for l in 0..d {
            a1.push(self.tensor(format!("enc{l}.a1"), l, ch(l)));
            s.push(self.tensor(format!("enc{l}.skip"), l, ch(l)));
            ins.push(self.tensor(format!("enc{l}.pooled"), l + 1, ch(l)));
        }
        let b1 = self.tensor("bottleneck.b1".into(), d, ch(d));
        let b2 = self.tensor("bottleneck.b2".into(), d, ch(d));
        let (mut u, mut d1, mut d2) = (Vec::new(), Vec::new(), Vec::new());
        for l in 0..d {
            u.push(self.tensor(format!("dec{l}.up"), l, ch(l)));
            d1.push(self.tensor(format!("dec{l}.d1"), l, ch(l)));
            d2.push(self.tensor(format!("dec{l}.d2"), l, ch(l)));
        }
        let count = n * hl(0) * wl(0);
        let logits = self.ctx.storage("train.logits", count as u64 * 4);
        let dlogits = self.ctx.storage("train.dlogits", count as u64 * 4);
        // Gradients of the activations.
        let (mut g2, mut g1, mut gs, mut gu, mut ga, mut gp) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for l in 0..d {
            g2.push(self.tensor(format!("dec{l}.d2.grad"), l, ch(l)));
            g1.push(self.tensor(format!("dec{l}.d1.grad"), l, ch(l)));
            gs.push(self.tensor(format!("enc{l}.skip.grad"), l, ch(l)));
            gu.push(self.tensor(format!("dec{l}.up.grad"), l, ch(l)));
            ga.push(self.tensor(format!("enc{l}.a1.grad"), l, ch(l)));
            gp.push(self.tensor(format!("enc{l}.pooled.grad"), l + 1, ch(l)));
        }
        let gb2 = self.tensor("bottleneck.b2.grad".into(), d, ch(d));
        let gb1 = self.tensor("bottleneck.b1.grad".into(), d, ch(d));
        self._buffers.extend([logits.clone(), dlogits.clone()]);

        let ctx = self.ctx.clone();
        let dev = &ctx.device;
        let k = TrainKernels::new(&ctx);
        let mut ops = Vec::new();
        let mut extra = Vec::new();
        let uniform =
            |label: &str, bytes: &[u8]| ctx.buffer_with(label, bytes, wgpu::BufferUsages::UNIFORM);
        let conv_params = |l: usize, ca: usize, cb: usize, co: usize| Conv3x3Params {
            n,
            h: hl(l),
            w: wl(l),
            ca4: c4(ca) as u32,
            cb4: c4(cb) as u32,
            co4: c4(co) as u32,
            relu: 1,
            ob_first: 0,
        };
        // --- forward ---
        let fwd_conv = |ops: &mut Vec<Dispatch>,
                        name: &str,
                        l: usize,
                        a: &wgpu::Buffer,
                        b: Option<&wgpu::Buffer>,
                        ca: usize,
                        cb: usize,
                        co: usize,
                        y: &wgpu::Buffer| {
            let p = conv_params(l, ca, cb, co);
            let (w, bias) = (
                self.param(&format!("{name}.weight")),
                self.param(&format!("{name}.bias")),
            );
            let g = k.conv3x3.bind(
                dev,
                name,
                &[
                    a,
                    b.unwrap_or(a),
                    &w.weight,
                    &bias.weight,
                    y,
                    &uniform(name, bytemuck::bytes_of(&p)),
                ],
            );
            ops.push(k.conv3x3.dispatch(g, &p));
        };
        let mut ci = 1;
        for l in 0..d {
            fwd_conv(
                &mut ops,
                &format!("enc{l}.conv1"),
                l,
                &ins[l],
                None,
                ci,
                0,
                ch(l),
                &a1[l],
            );
            fwd_conv(
                &mut ops,
                &format!("enc{l}.conv2"),
                l,
                &a1[l],
                None,
                ch(l),
                0,
                ch(l),
                &s[l],
            );
            let p = Maxpool2x2Params {
                n,
                h: hl(l),
                w: wl(l),
                c4: c4(ch(l)) as u32,
            };
            let g = k.maxpool2x2.bind(
                dev,
                "pool",
                &[&s[l], &ins[l + 1], &uniform("pool", bytemuck::bytes_of(&p))],
            );
            ops.push(k.maxpool2x2.dispatch(g, &p));
            ci = ch(l);
        }
        fwd_conv(
            &mut ops,
            "bottleneck.conv1",
            d,
            &ins[d],
            None,
            ci,
            0,
            ch(d),
            &b1,
        );
        fwd_conv(
            &mut ops,
            "bottleneck.conv2",
            d,
            &b1,
            None,
            ch(d),
            0,
            ch(d),
            &b2,
        );
        let up_params = |l: usize| Upconv2x2Params {
            n,
            h: hl(l + 1),
            w: wl(l + 1),
            ci4: c4(2 * ch(l)) as u32,
            co4: c4(ch(l)) as u32,
            _pad: [0; 3],
        };
        for l in (0..d).rev() {
            let prev = if l + 1 == d { &b2 } else { &d2[l + 1] };
            let p = up_params(l);
            let (w, bias) = (
                self.param(&format!("dec{l}.up.weight")),
                self.param(&format!("dec{l}.up.bias")),
            );
            let g = k.upconv2x2.bind(
                dev,
                "up",
                &[
                    prev,
                    &w.weight,
                    &bias.weight,
                    &u[l],
                    &uniform("up", bytemuck::bytes_of(&p)),
                ],
            );
            ops.push(k.upconv2x2.dispatch(g, &p));
            fwd_conv(
                &mut ops,
                &format!("dec{l}.conv1"),
                l,
                &s[l],
                Some(&u[l]),
                ch(l),
                ch(l),
                ch(l),
                &d1[l],
            );
            fwd_conv(
                &mut ops,
                &format!("dec{l}.conv2"),
                l,
                &d1[l],
                None,
                ch(l),
                0,
                ch(l),
                &d2[l],
            );
        }
        let rows = n * hl(0);
        let hp = Head1x1Params {
            th: rows,
            tw: wl(0),
            c4: c4(c) as u32,
            logits: 1,
            cy0: 0,
            cy1: rows,
            cx0: 0,
            cx1: wl(0),
            oy: 0,
            ox: 0,
            out_h: rows,
            out_w: wl(0),
        };
        let (hw, hb) = (self.param("head.weight"), self.param("head.bias"));
        let g = k.head1x1.bind(
            dev,
            "head",
            &[
                &d2[0],
                &hw.weight,
                &hb.weight,
                &logits,
                &uniform("head", bytemuck::bytes_of(&hp)),
            ],
        );
        ops.push(k.head1x1.dispatch(g, &hp));
        // --- loss ---
        let lp = LossParams {
            count,
            chunk: 256,
            pos_weight: self.loss.pos_weight,
            jaccard_weight: self.loss.jaccard_weight,
        };
        let chunk_sums = ctx.storage("train.loss.chunks", lp.chunks() as u64 * 16);
        let g = k.loss.bind(
            dev,
            "loss",
            &[
                &logits,
                &self.target,
                &chunk_sums,
                &self.sums,
                &dlogits,
                &uniform("loss", bytemuck::bytes_of(&lp)),
            ],
        );
        ops.push(k.loss.dispatch(g, &lp));
        extra.push(chunk_sums);
        // --- backward ---
        let hgp = HeadGradParams {
            count,
            c4: c4(c) as u32,
            chunk: 256,
            _pad: 0,
        };
        let partial = ctx.storage("head.partial", (hgp.chunks() * (hgp.c4 + 1)) as u64 * 16);
        let g = k.head_grad.bind(
            dev,
            "head.grad",
            &[
                &d2[0],
                &dlogits,
                &hw.weight,
                &g2[0],
                &partial,
                &hw.grad,
                &hb.grad,
                &uniform("head.grad", bytemuck::bytes_of(&hgp)),
            ],
        );
        ops.push(k.head_grad.dispatch(g, &hgp));
        extra.push(partial);
        // Weight and input gradients of one conv (ReLU mask from its output y).
        let back_conv =
            |ops: &mut Vec<Dispatch>,
             extra: &mut Vec<wgpu::Buffer>,
             name: &str,
             l: usize,
             x_a: &wgpu::Buffer,
             x_b: Option<&wgpu::Buffer>,
             ca: usize,
             cb: usize,
             co: usize,
             y: &wgpu::Buffer,
             dy: &wgpu::Buffer,
             dx: Option<(&wgpu::Buffer, Option<&wgpu::Buffer>)>| {
                let (w, bias) = (
                    self.param(&format!("{name}.weight")),
                    self.param(&format!("{name}.bias")),
                );
                let cin4 = (c4(ca) + c4(cb)) as u32;
                let gp = GradWeightParams {
                    n,
                    h: hl(l),
                    w: wl(l),
                    ca4: c4(ca) as u32,
                    cb4: c4(cb) as u32,
                    co4: c4(co) as u32,
                    relu: 1,
                    rows: GradWeightParams::rows_for(
                        n,
                        hl(l),
                        c4(co) as u32 * cin4,
                        REDUCTION_TARGET,
                    ),
                };
                let (pw, pb) = gp.partial_len();
                let (part_w, part_b) = (
                    ctx.storage(&format!("{name}.partial_w"), pw * 16),
                    ctx.storage(&format!("{name}.partial_b"), pb * 16),
                );
                let g = k.conv_grad_weight.bind(
                    dev,
                    name,
                    &[
                        x_a,
                        x_b.unwrap_or(x_a),
                        dy,
                        y,
                        &part_w,
                        &part_b,
                        &w.grad,
                        &bias.grad,
                        &uniform(name, bytemuck::bytes_of(&gp)),
                    ],
                );
                ops.push(k.conv_grad_weight.dispatch(g, &gp));
                extra.extend([part_w, part_b]);
                if let Some((dx_a, dx_b)) = dx {
                    let p = conv_params(l, ca, cb, co);
                    let g = k.conv_grad_input.bind(
                        dev,
                        name,
                        &[
                            dy,
                            y,
                            &w.weight,
                            dx_a,
                            dx_b.unwrap_or(dx_a),
                            &uniform(name, bytemuck::bytes_of(&p)),
                        ],
                    );
                    ops.push(k.conv_grad_input.dispatch(g, &p));
                }
            };
        for l in 0..d {
            let cl = ch(l);
            back_conv(
                &mut ops,
                &mut extra,
                &format!("dec{l}.conv2"),
                l,
                &d1[l],
                None,
                cl,
                0,
                cl,
                &d2[l],
                &g2[l],
                Some((&g1[l], None)),
            );
            back_conv(
                &mut ops,
                &mut extra,
                &format!("dec{l}.conv1"),
                l,
                &s[l],
                Some(&u[l]),
                cl,
                cl,
                cl,
                &d1[l],
                &g1[l],
                Some((&gs[l], Some(&gu[l]))),
            );
            let prev = if l + 1 == d { &b2 } else { &d2[l + 1] };
            let gprev = if l + 1 == d { &gb2 } else { &g2[l + 1] };
            let (w, bias) = (
                self.param(&format!("dec{l}.up.weight")),
                self.param(&format!("dec{l}.up.bias")),
            );
            let up = up_params(l);
            let ugp = UpGradWeightParams {
                n,
                h: up.h,
                w: up.w,
                ci4: up.ci4,
                co4: up.co4,
                rows: GradWeightParams::rows_for(n, up.h, up.ci4 * up.co4, REDUCTION_TARGET),
                _pad: [0; 2],
            };
            let (pw, pb) = ugp.partial_len();
            let (part_w, part_b) = (
                ctx.storage("up.partial_w", pw * 16),
                ctx.storage("up.partial_b", pb * 16),
            );
            let g = k.up_grad_weight.bind(
                dev,
                "up.grad",
                &[
                    prev,
                    &gu[l],
                    &part_w,
                    &part_b,
                    &w.grad,
                    &bias.grad,
                    &uniform("up.grad", bytemuck::bytes_of(&ugp)),
                ],
            );
            ops.push(k.up_grad_weight.dispatch(g, &ugp));
            extra.extend([part_w, part_b]);
            let g = k.up_grad_input.bind(
                dev,
                "up.grad_input",
                &[
                    &gu[l],
                    &w.weight,
                    gprev,
                    &uniform("up.grad_input", bytemuck::bytes_of(&up)),
                ],
            );
            ops.push(k.up_grad_input.dispatch(g, &up));
        }
        back_conv(
            &mut ops,
            &mut extra,
            "bottleneck.conv2",
            d,
            &b1,
            None,
            ch(d),
            0,
            ch(d),
            &b2,
            &gb2,
            Some((&gb1, None)),
        );
        back_conv(
            &mut ops,
            &mut extra,
            "bottleneck.conv1",
            d,
            &ins[d],
            None,
            ch(d - 1),
            0,
            ch(d),
            &b1,
            &gb1,
            Some((&gp[d - 1], None)),
        );
        for l in (0..d).rev() {
            let cl = ch(l);
            let pp = Maxpool2x2GradParams {
                n,
                h: hl(l),
                w: wl(l),
                c4: c4(cl) as u32,
                accumulate: 1,
                _pad: [0; 3],
            };
            let g = k.pool_grad.bind(
                dev,
                "pool.grad",
                &[
                    &s[l],
                    &gp[l],
                    &gs[l],
                    &uniform("pool.grad", bytemuck::bytes_of(&pp)),
                ],
            );
            ops.push(k.pool_grad.dispatch(g, &pp));
            back_conv(
                &mut ops,
                &mut extra,
                &format!("enc{l}.conv2"),
                l,
                &a1[l],
                None,
                cl,
                0,
                cl,
                &s[l],
                &gs[l],
                Some((&ga[l], None)),
            );
            let cin = if l == 0 { 1 } else { ch(l - 1) };
            let dx = (l > 0).then(|| (&gp[l - 1], None));
            back_conv(
                &mut ops,
                &mut extra,
                &format!("enc{l}.conv1"),
                l,
                &ins[l],
                None,
                cin,
                0,
                cl,
                &a1[l],
                &ga[l],
                dx,
            );
        }
        // --- Adam ---
        for p in &self.params {
            let ap = AdamParams::at_step(p.count, 1, self.adam);
            let g = k.adam.bind(
                dev,
                &p.name,
                &[&p.grad, &p.weight, &p.m, &p.v, &p.adam_params],
            );
            ops.push(k.adam.dispatch(g, &ap));
        }
        self.ops = ops;
        self._buffers.extend(extra);
        Ok(())
    }

    /// One training step on a normalised batch `x` (`[N][H][W]`, row-major) and its targets
    /// (0/1, same shape). Returns the batch loss before the update.
    pub fn step(&mut self, x: &[f32], target: &[f32]) -> Result<f32> {
        let len = self.batch * self.height * self.width;
        if x.len() != len || target.len() != len {
            return Err(Error::Shape(format!(
                "a batch of {}×{}×{} needs {len} inputs and targets, got {} and {}",
                self.batch,
                self.height,
                self.width,
                x.len(),
                target.len()
            )));
        }
        self.step += 1;
        let ctx = &self.ctx;
        let packed: Vec<f32> = x.iter().flat_map(|&v| [v, 0.0, 0.0, 0.0]).collect();
        ctx.checked("a training step", || {
            ctx.queue
                .write_buffer(&self.input, 0, bytemuck::cast_slice(&packed));
            ctx.queue
                .write_buffer(&self.target, 0, bytemuck::cast_slice(target));
            for p in &self.params {
                let ap = AdamParams::at_step(p.count, self.step, self.adam);
                ctx.queue
                    .write_buffer(&p.adam_params, 0, bytemuck::bytes_of(&ap));
            }
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for op in &self.ops {
                    op.record(&mut pass);
                }
            }
            encoder.copy_buffer_to_buffer(&self.sums, 0, &self.sums_staging, 0, 32);
            ctx.submit(encoder);
        })?;
        let sums: Vec<f32> = read_mapped(ctx, &self.sums_staging)?;
        Ok(sums[4])
    }

    /// Sets the learning rate of the following steps (the schedule lives with the caller).
    pub fn set_lr(&mut self, lr: f32) {
        self.adam.lr = lr;
    }

    /// Adam's moments of every tensor, in the packed GPU layout: (name, m, v).
    pub fn moments(&self) -> Result<Moments> {
        self.params
            .iter()
            .map(|p| Ok((p.name.clone(), self.ctx.read(&p.m)?, self.ctx.read(&p.v)?)))
            .collect()
    }

    /// Restores Adam's moments (as [`Self::moments`] returned them) and the step count.
    pub fn restore(&mut self, moments: &Moments, step: u32) -> Result<()> {
        for (name, m, v) in moments {
            let p = self
                .params
                .iter()
                .find(|p| &p.name == name)
                .ok_or_else(|| {
                    Error::Shape(format!("optimizer state has an unknown tensor {name}"))
                })?;
            if m.len() != p.count as usize || v.len() != p.count as usize {
                return Err(Error::Shape(format!(
                    "optimizer state of {name} has the wrong size"
                )));
            }
            self.ctx
                .queue
                .write_buffer(&p.m, 0, bytemuck::cast_slice(m));
            self.ctx
                .queue
                .write_buffer(&p.v, 0, bytemuck::cast_slice(v));
        }
        if moments.len() != self.params.len() {
            return Err(Error::Shape(
                "optimizer state does not cover every tensor".into(),
            ));
        }
        self.step = step;
        Ok(())
    }

    /// The current weights as a model (file layout), keeping the metadata it was created with.
    pub fn model(&self) -> Result<Model> {
        let mut tensors = BTreeMap::new();
        for (name, shape) in crate::model::spec(self.depth, self.channels) {
            let p = self.param(&name);
            let packed: Vec<f32> = self.ctx.read(&p.weight)?;
            tensors.insert(name, (shape, p.packing.unpack(&packed)));
        }
        Ok(Model {
            depth: self.depth,
            channels: self.channels,
            threshold: self.threshold,
            metadata: self.metadata.clone(),
            tensors,
        })
    }
}
