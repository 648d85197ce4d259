//! Flat-field calibration, as stations do it: the camera's fixed pattern estimated from a set of
//! frames of one run, then taken out of every frame before it is segmented.
//!
//! Model: a frame is `p(x, y) = gain(x, y) · s(x, y) + offset(x)`, with `gain` the smooth
//! illumination (vignetting) normalised to mean 1, `offset` the column fixed pattern (mean 0) and
//! `s` the scene. Estimation:
//! 1. the per-pixel median over the frames (grains sit at other places in other views, so the
//!    median rejects them; at least 3 frames);
//! 2. a least-squares quadratic surface in (x, y) through that median stack: the illumination
//!    (a paraboloid, like the vignetting of a microscope's optics);
//! 3. the column offsets: each column's median of the residual (stack − surface), minus their mean.
//!
//! Applying it: `p' = (p − offset(x)) · (1 / gain(x, y))`, rounded (half to even) and clipped to
//! the frame's range, so the result is an ordinary frame of the same bit depth. `segment` and
//! `classic` apply it on the GPU (`shaders/flatfield.wgsl`, in place on the uploaded frame, before
//! the frame statistics; [`FlatField::apply`] is its reference, bit for bit) and cluster the
//! corrected frame read back from it; `train --data` applies it with [`FlatField::apply`] as
//! frames are read (each training frame is read once).
//!
//! File: safetensors with `gain [H, W]` and `offset [W]` (F32) and metadata
//! `format = "emunet-flatfield/1"`, `frames` (how many were stacked); written atomically.

use crate::error::{Error, Result};
use crate::frame::Frame;
use std::collections::HashMap;
use std::path::Path;

/// The `format` metadata value of a flat-field file; [`FlatField::from_bytes`] requires it.
pub const FORMAT: &str = "emunet-flatfield/1";

/// A camera's fixed pattern for frames of one size.
#[derive(Clone, Debug, PartialEq)]
pub struct FlatField {
    /// Frame width (pixels) the flat-field is for.
    pub width: usize,
    /// Frame height (pixels) the flat-field is for.
    pub height: usize,
    /// Smooth relative illumination, mean 1, `height × width` row-major.
    pub gain: Vec<f32>,
    /// Column offsets in the frames' own units, mean 0.
    pub offset: Vec<f32>,
    /// Frames the estimate was made from.
    pub frames: usize,
}

/// Terms of the quadratic surface in normalised coordinates u, v ∈ [−1, 1].
fn terms(u: f64, v: f64) -> [f64; 6] {
    [1.0, u, v, u * u, u * v, v * v]
}

/// Solves the 6×6 normal equations `a · c = b` by Gaussian elimination with partial pivoting.
fn solve6(mut a: [[f64; 6]; 6], mut b: [f64; 6]) -> Option<[f64; 6]> {
    for k in 0..6 {
        let pivot = (k..6).max_by(|&i, &j| a[i][k].abs().total_cmp(&a[j][k].abs()))?;
        if a[pivot][k].abs() < 1e-12 {
            return None;
        }
        a.swap(k, pivot);
        b.swap(k, pivot);
        let (row_k, b_k) = (a[k], b[k]);
        for (row, bi) in a[k + 1..].iter_mut().zip(&mut b[k + 1..]) {
            let f = row[k] / row_k[k];
            for (x, &xk) in row[k..].iter_mut().zip(&row_k[k..]) {
                *x -= f * xk;
            }
            *bi -= f * b_k;
        }
    }
    let mut c = [0.0; 6];
    for k in (0..6).rev() {
        let s: f64 = (k + 1..6).map(|j| a[k][j] * c[j]).sum();
        c[k] = (b[k] - s) / a[k][k];
    }
    Some(c)
}

impl FlatField {
    /// Estimates the fixed pattern from frames of one run (same size, at least 3).
    pub fn estimate(frames: &[Frame]) -> Result<Self> {
        let first = frames
            .first()
            .ok_or_else(|| Error::Shape("a flat-field needs frames".into()))?;
        if frames.len() < 3 {
            return Err(Error::Shape(format!(
                "a flat-field needs at least 3 frames (a per-pixel median rejects grains), got {}",
                frames.len()
            )));
        }
        let (w, h) = (first.width, first.height);
        if w < 8 || h < 8 {
            return Err(Error::Shape(format!(
                "frames of {w}×{h} are too small for a flat-field"
            )));
        }
        if let Some(f) = frames.iter().find(|f| (f.width, f.height) != (w, h)) {
            return Err(Error::Shape(format!(
                "flat-field frames must share one size: {w}×{h} and {}×{}",
                f.width, f.height
            )));
        }
        // 1. Per-pixel median stack.
        let n = frames.len();
        let mut column = vec![0u32; n];
        let stack: Vec<f64> = (0..w * h)
            .map(|i| {
                for (c, f) in column.iter_mut().zip(frames) {
                    *c = f.value(i);
                }
                column.sort_unstable();
                if n % 2 == 1 {
                    column[n / 2] as f64
                } else {
                    0.5 * (column[n / 2 - 1] as f64 + column[n / 2] as f64)
                }
            })
            .collect();
        // 2. Quadratic illumination surface (least squares on a grid of every 4th pixel).
        let coord = |i: usize, n: usize| 2.0 * (i as f64 + 0.5) / n as f64 - 1.0;
        let (mut a, mut b) = ([[0.0; 6]; 6], [0.0; 6]);
        for y in (0..h).step_by(4) {
            for x in (0..w).step_by(4) {
                let t = terms(coord(x, w), coord(y, h));
                let v = stack[y * w + x];
                for r in 0..6 {
                    for c in 0..6 {
                        a[r][c] += t[r] * t[c];
                    }
                    b[r] += t[r] * v;
                }
            }
        }
        let coef = solve6(a, b)
            .ok_or_else(|| Error::Shape("flat-field: illumination fit is singular".into()))?;
        let surface: Vec<f64> = (0..w * h)
            .map(|i| {
                let t = terms(coord(i % w, w), coord(i / w, h));
                t.iter().zip(&coef).map(|(t, c)| t * c).sum()
            })
            .collect();
        let mean = surface.iter().sum::<f64>() / surface.len() as f64;
        if mean.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(Error::Shape(
                "flat-field: the frames are black (mean illumination ≤ 0)".into(),
            ));
        }
        // 3. Column offsets: median residual per column, mean removed.
        let mut residual = vec![0.0f64; h];
        let mut offset: Vec<f64> = (0..w)
            .map(|x| {
                for (y, r) in residual.iter_mut().enumerate() {
                    *r = stack[y * w + x] - surface[y * w + x];
                }
                *residual.select_nth_unstable_by(h / 2, f64::total_cmp).1
            })
            .collect();
        let mean_offset = offset.iter().sum::<f64>() / w as f64;
        offset.iter_mut().for_each(|o| *o -= mean_offset);
        let gain: Vec<f32> = surface
            .iter()
            .map(|s| (s / mean).max(0.05) as f32)
            .collect();
        Ok(FlatField {
            width: w,
            height: h,
            gain,
            offset: offset.iter().map(|&o| o as f32).collect(),
            frames: n,
        })
    }

    /// `1 / gain` per pixel in f32, the factor [`FlatField::apply`] and the GPU multiply by.
    pub fn inverse_gain(&self) -> Vec<f32> {
        self.gain.iter().map(|&g| 1.0 / g).collect()
    }

    /// The frame with the fixed pattern taken out, same size and bit depth.
    pub fn apply(&self, frame: &Frame) -> Result<Frame> {
        let (w, h) = (frame.width, frame.height);
        check_size((self.width, self.height), (w, h))?;
        let max = frame.max_value() as f32;
        let inverse = self.inverse_gain();
        let corrected = |i: usize| {
            ((frame.value(i) as f32 - self.offset[i % w]) * inverse[i])
                .round_ties_even()
                .clamp(0.0, max)
        };
        if frame.bits() == 8 {
            Frame::from_u8(w, h, (0..w * h).map(|i| corrected(i) as u8).collect())
        } else {
            Frame::from_u16(w, h, (0..w * h).map(|i| corrected(i) as u16).collect())
        }
    }

    /// Writes the flat-field file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        use safetensors::tensor::TensorView;
        let gain: &[u8] = bytemuck::cast_slice(&self.gain);
        let offset: &[u8] = bytemuck::cast_slice(&self.offset);
        let err = |e: safetensors::SafeTensorError| Error::Shape(e.to_string());
        let views = vec![
            (
                "gain".to_string(),
                TensorView::new(safetensors::Dtype::F32, vec![self.height, self.width], gain)
                    .map_err(err)?,
            ),
            (
                "offset".to_string(),
                TensorView::new(safetensors::Dtype::F32, vec![self.width], offset).map_err(err)?,
            ),
        ];
        let metadata: HashMap<String, String> = [
            ("format".to_string(), FORMAT.to_string()),
            ("frames".to_string(), self.frames.to_string()),
        ]
        .into();
        let bytes = safetensors::serialize(views, Some(metadata)).map_err(err)?;
        crate::model::write_atomic(path, &bytes)
    }

    /// Reads and validates a flat-field file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes)
            .map_err(|message| Error::Shape(format!("{}: {message}", path.display())))
    }

    /// Parses flat-field bytes; the error says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| format!("not a flat-field file ({e})"))?;
        let file = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| format!("not a flat-field file ({e})"))?;
        let meta = header.metadata().clone().unwrap_or_default();
        match meta.get("format") {
            Some(f) if f == FORMAT => {}
            other => return Err(format!("format is {other:?}, expected `{FORMAT}`")),
        }
        let read =
            |name: &str, rank: usize| -> std::result::Result<(Vec<usize>, Vec<f32>), String> {
                let t = file
                    .tensor(name)
                    .map_err(|_| format!("missing tensor `{name}`"))?;
                if t.dtype() != safetensors::Dtype::F32 || t.shape().len() != rank {
                    return Err(format!(
                        "tensor `{name}` is {:?} {:?}, expected F32 of rank {rank}",
                        t.dtype(),
                        t.shape()
                    ));
                }
                let v = crate::model::finite_f32_values(name, t.data())?;
                Ok((t.shape().to_vec(), v))
            };
        let (gs, gain) = read("gain", 2)?;
        let (os, offset) = read("offset", 1)?;
        if os[0] != gs[1] {
            return Err(format!("`offset` has {} columns, `gain` {}", os[0], gs[1]));
        }
        if gain.iter().any(|&g| g <= 0.0) {
            return Err("`gain` must be positive everywhere".into());
        }
        Ok(FlatField {
            width: gs[1],
            height: gs[0],
            gain,
            offset,
            frames: meta.get("frames").and_then(|f| f.parse().ok()).unwrap_or(0),
        })
    }
}

/// A clear error unless a flat-field for `(w, h)` frames meets a `(width, height)` frame.
fn check_size((w, h): (usize, usize), (width, height): (usize, usize)) -> Result<()> {
    if (width, height) != (w, h) {
        return Err(Error::Shape(format!(
            "the flat-field is for {w}×{h} frames, this frame is {width}×{height}"
        )));
    }
    Ok(())
}

/// A flat-field uploaded for the GPU (`shaders/flatfield.wgsl`): column offsets and `1 / gain`.
pub struct GpuFlatField {
    /// Frame width (pixels) the flat-field is for.
    pub width: usize,
    /// Frame height (pixels) the flat-field is for.
    pub height: usize,
    offset: wgpu::Buffer,
    inverse_gain: wgpu::Buffer,
}

impl GpuFlatField {
    /// Uploads the column offsets and `1 / gain` of `flat` to the GPU.
    pub fn upload(ctx: &crate::gpu::Context, flat: &FlatField) -> Self {
        GpuFlatField {
            width: flat.width,
            height: flat.height,
            offset: ctx.upload("flatfield.offset", &flat.offset),
            inverse_gain: ctx.upload("flatfield.inverse_gain", &flat.inverse_gain()),
        }
    }

    /// The dispatch that corrects `raw` (a packed `width × height` frame of `bits` bits) in place,
    /// or a shape error when the flat-field is for another frame size.
    pub fn dispatch(
        &self,
        ctx: &crate::gpu::Context,
        raw: &wgpu::Buffer,
        width: usize,
        height: usize,
        bits: u32,
    ) -> Result<crate::kernels::Dispatch> {
        check_size((self.width, self.height), (width, height))?;
        let count = width * height;
        let p = crate::kernels::FlatFieldParams {
            count: count as u32,
            width: width as u32,
            bits,
            words: count.div_ceil(32 / bits as usize) as u32,
        };
        let kernel = ctx.kernel::<crate::kernels::FlatFieldKernel>(());
        let group = kernel.bind(
            &ctx.device,
            "flatfield",
            &[
                raw,
                &self.offset,
                &self.inverse_gain,
                &ctx.uniform("flatfield.params", &p),
            ],
        );
        Ok(kernel.dispatch(group, &p))
    }
}
