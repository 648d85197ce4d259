//! Wrapper of `shaders/fir_filter.wgsl`: equalisation and the classical FIR high-pass filter.

use super::{Access, Kernel, grid_2d, numbered};

/// `shaders/fir_filter.wgsl`: the equalisation gain and the integer-tap FIR filter (the module
/// is `frame_pixel.wgsl` and this: [`FirFilter`]'s source).
pub const SOURCE: &str = include_str!("../../shaders/fir_filter.wgsl");

/// Adjacent outputs of one row written by one invocation (`PX`; tests/host/layouts.rs checks
/// the shader's).
pub const PX: u32 = 8;

/// Mirrors `FirTaps`: a `k × k` kernel (k ≤ 6) padded to 6×6 with zero taps, row v's taps 0..3 in
/// `rows[2v]` and 4, 5 in `rows[2v + 1]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FirTaps {
    /// Row v's taps 0..3 in `rows[2v]`, taps 4 and 5 in `rows[2v + 1]` (x, y); the rest zero.
    pub rows: [[i32; 4]; 12],
}

impl FirTaps {
    /// Packs row-major `k × k` taps; None when k > 6.
    pub fn pack(k: usize, taps: &[i32]) -> Option<Self> {
        if k > 6 || taps.len() != k * k {
            return None;
        }
        let mut t = FirTaps::default();
        for v in 0..k {
            for u in 0..k {
                t.rows[2 * v + u / 4][u % 4] = taps[v * k + u];
            }
        }
        Some(t)
    }
}

/// Mirrors `FirFilterParams`: frame `w × h` with `bits` per pixel, a `k × k` kernel whose tap
/// (0, 0) sits at offset `offset` from the output pixel, equalisation on or off.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FirFilterParams {
    /// Frame width in pixels.
    pub w: u32,
    /// Frame height in pixels.
    pub h: u32,
    /// Bits per raw pixel (8 or 16).
    pub bits: u32,
    /// Kernel size (≤ 6); the shader runs every kernel as 6×6, the taps past `k` zero.
    pub k: u32,
    /// Offset of tap (0, 0) from the output pixel on both axes (−3 for FEDRA's 6×6).
    pub offset: i32,
    /// 1: gain 220 / median (if the median is ≥ 64 in 8-bit units); 0: gain 255 / max value.
    pub equalise: u32,
    /// The kernel's scale (FEDRA: 1/12), applied with the gain to the integer tap sum.
    pub scale: f32,
    /// Padding to the WGSL struct's size (a multiple of 16 bytes).
    pub _pad: u32,
}

impl FirFilterParams {
    /// Floating-point operations of one dispatch: `k × k` multiply-adds per pixel (2 each).
    pub fn flops(&self) -> u64 {
        2 * (self.w * self.h * self.k * self.k) as u64
    }
    /// Minimal bytes moved: the raw frame read once, the f32 response written once.
    pub fn bytes(&self) -> u64 {
        (self.w * self.h) as u64 * (self.bits as u64 / 8 + 4)
    }
}

/// The classical pipeline's equalisation and k×k FIR filter, PX outputs of a row per invocation:
/// bindings raw, stats (read), taps (uniform), the response r (read-write), params (uniform).
pub struct FirFilter;

impl Kernel for FirFilter {
    type Config = ();
    type Params = FirFilterParams;
    const NAME: &'static str = "fir_filter";

    fn source((): ()) -> String {
        format!("{}\n{SOURCE}", super::normalize::SOURCE_FRAME_PIXEL)
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[Read, Read, Uniform, ReadWrite, Uniform])
    }

    fn grid((): (), p: &FirFilterParams) -> Vec<[u32; 3]> {
        let [x, y] = grid_2d(p.w.div_ceil(PX) * p.h);
        vec![[x, y, 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
