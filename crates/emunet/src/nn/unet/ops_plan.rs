//! The per-operation engine's plan for a frame size: tiles with halos where the activations
//! would exceed the device's largest storage binding, and one dispatch per operation.

use super::*;

impl Unet {
    /// Largest activation buffer (bytes) of a `th × tw` tile.
    pub(super) fn tile_bytes(&self, th: usize, tw: usize) -> u64 {
        (0..=self.depth)
            .map(|l| ((th >> l) * (tw >> l) * c4(level_channels(self.channels, l)) * 16) as u64)
            .max()
            .unwrap_or(0)
            .max((th * tw * 16) as u64)
    }

    /// Splits the padded `hp × wp` frame into tiles whose buffers fit the budget.
    pub fn plan_tiles(&self, hp: usize, wp: usize) -> Result<Vec<Tile>> {
        let m = 1 << self.depth;
        if self.tile_bytes(hp, wp) <= self.tile_budget {
            return Ok(vec![Tile {
                oy: 0,
                ox: 0,
                th: hp,
                tw: wp,
                cy0: 0,
                cy1: hp,
                cx0: 0,
                cx1: wp,
            }]);
        }
        let halo = receptive_radius(self.depth).next_multiple_of(m);
        // The core size with the best ratio of kept to computed pixels that fits the budget.
        let mut best: Option<(f64, usize, usize)> = None;
        for cw in (m..=wp).step_by(m) {
            let tw = (cw + 2 * halo).min(wp);
            let mut ch = 0;
            for h in (m..=hp).step_by(m) {
                if self.tile_bytes((h + 2 * halo).min(hp), tw) <= self.tile_budget {
                    ch = h;
                } else {
                    break;
                }
            }
            if ch == 0 {
                continue;
            }
            let th = (ch + 2 * halo).min(hp);
            let eff = (cw * ch) as f64 / (tw * th) as f64;
            if best.is_none_or(|(e, _, _)| eff > e) {
                best = Some((eff, ch, cw));
            }
        }
        let (_, ch, cw) = best.ok_or_else(|| {
            Error::Shape(format!(
                "no tile of UNet({}, {}) fits the device's {} MiB storage binding",
                self.depth,
                self.channels,
                self.tile_budget >> 20
            ))
        })?;
        let mut tiles = Vec::new();
        for y0 in (0..hp).step_by(ch) {
            for x0 in (0..wp).step_by(cw) {
                let (y1, x1) = ((y0 + ch).min(hp), (x0 + cw).min(wp));
                let (oy, ox) = (y0.saturating_sub(halo), x0.saturating_sub(halo));
                let (ey, ex) = ((y1 + halo).min(hp), (x1 + halo).min(wp));
                tiles.push(Tile {
                    oy,
                    ox,
                    th: ey - oy,
                    tw: ex - ox,
                    cy0: y0 - oy,
                    cy1: y1 - oy,
                    cx0: x0 - ox,
                    cx1: x1 - ox,
                });
            }
        }
        Ok(tiles)
    }

    /// The plan of the chosen engine (Auto: fused where it can run, else per-operation).
    pub(super) fn build_plan(&self, h: usize, w: usize, bits: u32) -> Result<Plan> {
        match self.engine {
            Engine::Ops if self.precision == Some(Precision::F16) => Err(Error::Shape(
                "the per-operation engine stores activations in f32 only; use the fused engine for f16"
                    .into(),
            )),
            Engine::Ops => self.build_ops_plan(h, w, bits),
            Engine::Fused => self.build_fused_plan(h, w, bits),
            Engine::Auto => match self.fused_unsupported(h, w) {
                Some(_) if self.precision != Some(Precision::F16) => {
                    self.build_ops_plan(h, w, bits)
                }
                _ => self.build_fused_plan(h, w, bits),
            },
        }
    }

    fn build_ops_plan(&self, h: usize, w: usize, bits: u32) -> Result<Plan> {
        let ctx = &self.ctx;
        let dev = &ctx.device;
        let variant = ctx.variant();
        let normalize = ctx.kernel::<Normalize>(());
        let conv3x3 = ctx.kernel::<Conv3x3>(Conv3x3Config::buffers(variant));
        let maxpool2x2 = ctx.kernel::<Maxpool2x2>(Storage::Buffers);
        let upconv2x2 = ctx.kernel::<Upconv2x2>(Upconv2x2Config::buffers(variant));
        let head1x1 = ctx.kernel::<Head1x1>(());
        let d = self.depth;
        let m = 1 << d;
        let (hp, wp) = (h.next_multiple_of(m), w.next_multiple_of(m));
        let tiles = self.plan_tiles(hp, wp)?;
        let th_max = tiles.iter().map(|t| t.th).max().unwrap_or(m);
        let tw_max = tiles.iter().map(|t| t.tw).max().unwrap_or(m);

        let FrameStage {
            raw,
            hist,
            stats,
            prob,
            mask,
            readback,
            staging,
            raw_staging,
            mut steps,
        } = self.frame_stage(h, w, bits, ProbFormat::F32, false)?;

        // Activations: per level, t0 (level input, later up-conv and decoder output), t1 (conv1
        // output), skip (encoder output kept for the decoder).
        let x0 = ctx.storage("input", (th_max * tw_max * 16) as u64);
        let bytes = |l: usize| {
            ((th_max >> l) * (tw_max >> l) * c4(level_channels(self.channels, l)) * 16) as u64
        };
        let t0: Vec<_> = (0..=d)
            .map(|l| ctx.storage(&format!("level{l}.t0"), bytes(l)))
            .collect();
        let t1: Vec<_> = (0..=d)
            .map(|l| ctx.storage(&format!("level{l}.t1"), bytes(l)))
            .collect();
        let skip: Vec<_> = (0..d)
            .map(|l| ctx.storage(&format!("level{l}.skip"), bytes(l)))
            .collect();

        for (ti, tile) in tiles.iter().enumerate() {
            let u = |name: &str, p: &dyn Fn() -> Vec<u8>| {
                ctx.buffer_with(
                    &format!("tile{ti}.{name}.params"),
                    &p(),
                    wgpu::BufferUsages::UNIFORM,
                )
            };
            let np = NormalizeParams {
                h: h as u32,
                w: w as u32,
                bits,
                mode: NormalizeParams::mode_of(self.normalization),
                oy: tile.oy as u32,
                ox: tile.ox as u32,
                th: tile.th as u32,
                tw: tile.tw as u32,
            };
            let g = normalize.bind(
                dev,
                "normalize",
                &[
                    &raw,
                    &stats,
                    &x0,
                    &u("normalize", &|| bytemuck::bytes_of(&np).to_vec()),
                ],
            );
            steps.push(Step {
                label: format!("tile{ti}.normalize"),
                flops: 0,
                bytes: raw.size() + (tile.th * tile.tw * 16) as u64,
                dispatch: normalize.dispatch(g, &np),
            });

            let conv = |cw: &ConvWeights,
                        l: usize,
                        a: &wgpu::Buffer,
                        b: Option<&wgpu::Buffer>,
                        y: &wgpu::Buffer| {
                let p = Conv3x3Params {
                    n: 1,
                    h: (tile.th >> l) as u32,
                    w: (tile.tw >> l) as u32,
                    ca4: c4(cw.ca) as u32,
                    cb4: c4(cw.cb) as u32,
                    co4: c4(cw.co) as u32,
                    relu: 1,
                    ob_first: 0,
                };
                let params = u(&cw.name, &|| bytemuck::bytes_of(&p).to_vec());
                let g = conv3x3.bind(
                    dev,
                    &cw.name,
                    &[a, b.unwrap_or(a), &cw.weight, &cw.bias, y, &params],
                );
                Step {
                    label: format!("tile{ti}.{}", cw.name),
                    flops: p.flops(cw.ca + cw.cb, cw.co),
                    bytes: p.bytes(),
                    dispatch: conv3x3.dispatch(g, &p),
                }
            };
            let mut ci = 0;
            for l in 0..d {
                let input = if l == 0 { &x0 } else { &t0[l] };
                steps.push(conv(&self.convs[ci], l, input, None, &t1[l]));
                steps.push(conv(&self.convs[ci + 1], l, &t1[l], None, &skip[l]));
                ci += 2;
                let p = Maxpool2x2Params {
                    n: 1,
                    h: (tile.th >> l) as u32,
                    w: (tile.tw >> l) as u32,
                    c4: c4(level_channels(self.channels, l)) as u32,
                };
                let g = maxpool2x2.bind(
                    dev,
                    "maxpool2x2",
                    &[
                        &skip[l],
                        &t0[l + 1],
                        &u("maxpool", &|| bytemuck::bytes_of(&p).to_vec()),
                    ],
                );
                steps.push(Step {
                    label: format!("tile{ti}.enc{l}.pool"),
                    flops: p.flops(level_channels(self.channels, l)),
                    bytes: p.bytes(),
                    dispatch: maxpool2x2.dispatch(g, &p),
                });
            }
            steps.push(conv(&self.convs[ci], d, &t0[d], None, &t1[d]));
            steps.push(conv(&self.convs[ci + 1], d, &t1[d], None, &t0[d]));
            ci += 2;
            for (i, l) in (0..d).rev().enumerate() {
                let up = &self.ups[i];
                let p = Upconv2x2Params {
                    n: 1,
                    h: (tile.th >> (l + 1)) as u32,
                    w: (tile.tw >> (l + 1)) as u32,
                    ci4: c4(up.ci) as u32,
                    co4: c4(up.co) as u32,
                    _pad: [0; 3],
                };
                let g = upconv2x2.bind(
                    dev,
                    &up.name,
                    &[
                        &t0[l + 1],
                        &up.weight,
                        &up.bias,
                        &t0[l],
                        &u(&up.name, &|| bytemuck::bytes_of(&p).to_vec()),
                    ],
                );
                steps.push(Step {
                    label: format!("tile{ti}.{}", up.name),
                    flops: p.flops(up.ci, up.co),
                    bytes: p.bytes(),
                    dispatch: upconv2x2.dispatch(g, &p),
                });
                steps.push(conv(&self.convs[ci], l, &skip[l], Some(&t0[l]), &t1[l]));
                steps.push(conv(&self.convs[ci + 1], l, &t1[l], None, &t0[l]));
                ci += 2;
            }
            let hp_ = Head1x1Params {
                th: tile.th as u32,
                tw: tile.tw as u32,
                c4: c4(self.channels) as u32,
                logits: 0,
                cy0: tile.cy0 as u32,
                cy1: tile.cy1 as u32,
                cx0: tile.cx0 as u32,
                cx1: tile.cx1 as u32,
                oy: tile.oy as u32,
                ox: tile.ox as u32,
                out_h: h as u32,
                out_w: w as u32,
            };
            let g = head1x1.bind(
                dev,
                "head",
                &[
                    &t0[0],
                    &self.head_weight,
                    &self.head_bias,
                    &prob,
                    &u("head", &|| bytemuck::bytes_of(&hp_).to_vec()),
                ],
            );
            steps.push(Step {
                label: format!("tile{ti}.head"),
                flops: hp_.flops(self.channels),
                bytes: hp_.bytes(),
                dispatch: head1x1.dispatch(g, &hp_),
            });
        }
        let mut activations = vec![x0, stats.clone()];
        activations.extend(t0);
        activations.extend(t1);
        activations.extend(skip);
        Ok(Plan {
            key: (h, w, bits),
            engine: Engine::Ops,
            tiles,
            raw,
            hist,
            stats,
            clusters: None,
            prob,
            mask,
            readback,
            staging,
            raw_staging,
            steps,
            head: None,
            stats_copy: None,
            batch: Vec::new(),
            _activations: activations,
            _textures: Vec::new(),
        })
    }
}
