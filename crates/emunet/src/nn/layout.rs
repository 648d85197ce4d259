//! Re-packing between the file layouts (NCHW activations, OIHW / IOHW weights) and the GPU layouts:
//! channels-last activations with channels packed in vec4 (`[N][H][W][C/4]`, zero-padded), and
//! weights as `mat4x4` blocks whose column i is input channel 4·ic4+i and row j output channel
//! 4·oc4+j (WGSL matrices are column-major, so `w * x` sums over input channels).

use crate::reference::Tensor;

/// Number of vec4 groups holding `c` channels.
pub fn c4(c: usize) -> usize {
    c.div_ceil(4)
}

/// NCHW → `[N][H][W][ceil(C/4)·4]` (channels-last, zero-padded to a multiple of 4).
pub fn pack_activation(t: &Tensor) -> Vec<f32> {
    let cp = 4 * c4(t.c);
    let mut out = vec![0.0; t.n * t.h * t.w * cp];
    for n in 0..t.n {
        for c in 0..t.c {
            for y in 0..t.h {
                for x in 0..t.w {
                    out[((n * t.h + y) * t.w + x) * cp + c] = t.at(n, c, y, x);
                }
            }
        }
    }
    out
}

/// `[N][H][W][ceil(C/4)·4]` → NCHW with `c` channels (padding channels dropped).
pub fn unpack_activation(data: &[f32], n: usize, c: usize, h: usize, w: usize) -> Tensor {
    let cp = 4 * c4(c);
    let mut t = Tensor::zeros(n, c, h, w);
    for b in 0..n {
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    *t.at_mut(b, ch, y, x) = data[((b * h + y) * w + x) * cp + ch];
                }
            }
        }
    }
    t
}

/// Bias `[co]` → `[ceil(co/4)·4]`, zero-padded.
pub fn pack_bias(bias: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; 4 * c4(bias.len())];
    out[..bias.len()].copy_from_slice(bias);
    out
}

/// conv3x3 weight OIHW `[co][ca+cb][3][3]` → `[co4][ca4+cb4][9]` mat4x4 (the nine taps of one
/// output group and input group contiguous), where input groups `0..ca4` hold channels `0..ca`
/// (the first input) and groups `ca4..` channels `ca..ca+cb`.
pub fn pack_conv3x3_weight(w: &[f32], co: usize, ca: usize, cb: usize) -> Vec<f32> {
    let ci = ca + cb;
    assert_eq!(w.len(), co * ci * 9, "conv3x3 weight length");
    let (ca4, cb4, co4) = (c4(ca), c4(cb), c4(co));
    let cin4 = ca4 + cb4;
    let mut out = vec![0.0; co4 * cin4 * 9 * 16];
    for oc in 0..co {
        for ic4 in 0..cin4 {
            for i in 0..4 {
                // Concatenated input channel held by lane i of group ic4, if any.
                let ch = if ic4 < ca4 {
                    let c = ic4 * 4 + i;
                    (c < ca).then_some(c)
                } else {
                    let c = (ic4 - ca4) * 4 + i;
                    (c < cb).then_some(ca + c)
                };
                let Some(ch) = ch else { continue };
                for tap in 0..9 {
                    let m = ((oc / 4) * cin4 + ic4) * 9 + tap;
                    out[m * 16 + i * 4 + oc % 4] = w[(oc * ci + ch) * 9 + tap];
                }
            }
        }
    }
    out
}

/// up-conv weight IOHW `[ci][co][2][2]` → `[co4][ci4][4]` mat4x4 (the four taps of one output
/// group and input group contiguous).
pub fn pack_upconv2x2_weight(w: &[f32], ci: usize, co: usize) -> Vec<f32> {
    assert_eq!(w.len(), ci * co * 4, "upconv2x2 weight length");
    let (ci4, co4) = (c4(ci), c4(co));
    let mut out = vec![0.0; co4 * 4 * ci4 * 16];
    for ic in 0..ci {
        for oc in 0..co {
            for tap in 0..4 {
                let m = ((oc / 4) * ci4 + ic / 4) * 4 + tap;
                out[m * 16 + (ic % 4) * 4 + oc % 4] = w[(ic * co + oc) * 4 + tap];
            }
        }
    }
    out
}

/// head weight `[1][C][1][1]` → `[ceil(C/4)·4]`, zero-padded.
pub fn pack_head_weight(w: &[f32]) -> Vec<f32> {
    pack_bias(w)
}

/// Inverse of [`pack_conv3x3_weight`]: `[co4][cin4][9]` mat4x4 → OIHW `[co][ca+cb][3][3]`
/// (padding dropped). Gradients come back from the GPU in the packed layout.
pub fn unpack_conv3x3_weight(packed: &[f32], co: usize, ca: usize, cb: usize) -> Vec<f32> {
    let ci = ca + cb;
    let (ca4, cin4) = (c4(ca), c4(ca) + c4(cb));
    let mut out = vec![0.0; co * ci * 9];
    for oc in 0..co {
        for ch in 0..ci {
            let (ic4, i) = if ch < ca {
                (ch / 4, ch % 4)
            } else {
                (ca4 + (ch - ca) / 4, (ch - ca) % 4)
            };
            for tap in 0..9 {
                let m = ((oc / 4) * cin4 + ic4) * 9 + tap;
                out[(oc * ci + ch) * 9 + tap] = packed[m * 16 + i * 4 + oc % 4];
            }
        }
    }
    out
}

/// Inverse of [`pack_upconv2x2_weight`]: `[co4][ci4][4]` mat4x4 → IOHW `[ci][co][2][2]`.
pub fn unpack_upconv2x2_weight(packed: &[f32], ci: usize, co: usize) -> Vec<f32> {
    let ci4 = c4(ci);
    let mut out = vec![0.0; ci * co * 4];
    for ic in 0..ci {
        for oc in 0..co {
            for tap in 0..4 {
                let m = ((oc / 4) * ci4 + ic / 4) * 4 + tap;
                out[(ic * co + oc) * 4 + tap] = packed[m * 16 + (ic % 4) * 4 + oc % 4];
            }
        }
    }
    out
}
