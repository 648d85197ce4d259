//! Wrapper of `shaders/flatfield.wgsl`: the camera's fixed pattern taken out of the packed raw
//! frame in place, on the GPU. Reference: [`crate::flatfield::FlatField::apply`].

use super::{Access, Kernel, numbered};

/// `shaders/flatfield.wgsl`: the fixed-pattern correction of the packed raw frame, in place.
pub const SOURCE: &str = include_str!("../../shaders/flatfield.wgsl");

/// Mirrors `FlatFieldParams`: pixel count, frame width, bits per pixel (8 or 16), packed words.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FlatFieldParams {
    /// Pixels in the frame (the padding pixels of the last word are left as they are).
    pub count: u32,
    /// Frame width in pixels (the length of the column offsets).
    pub width: u32,
    /// Bits per pixel, 8 or 16.
    pub bits: u32,
    /// Packed u32 words of the frame (one invocation each).
    pub words: u32,
}

/// The fixed-pattern correction, in place, one invocation per packed word: bindings raw
/// (read-write), offset, inv_gain (read), params (uniform).
pub struct FlatFieldKernel;

impl Kernel for FlatFieldKernel {
    type Config = ();
    type Params = FlatFieldParams;
    const NAME: &'static str = "flatfield";

    fn source((): ()) -> String {
        SOURCE.to_string()
    }

    fn bindings((): ()) -> Vec<(u32, Access)> {
        use Access::*;
        numbered(&[ReadWrite, Read, Read, Uniform])
    }

    fn grid((): (), p: &FlatFieldParams) -> Vec<[u32; 3]> {
        let groups = p.words.div_ceil(64);
        let x = groups.clamp(1, 32768);
        let y = groups.div_ceil(x).max(1);
        vec![[x, y, 1]]
    }

    fn configs() -> Vec<()> {
        vec![()]
    }
}
