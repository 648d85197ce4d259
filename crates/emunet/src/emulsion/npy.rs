//! Minimal `.npy` (NumPy format 1.0) writer and reader for little-endian float32 2-D arrays in
//! C order: the probability maps `segment` writes.

use crate::error::{Error, Result};
use std::path::Path;

/// The bytes of a `.npy` file holding `data` as a `rows × cols` float32 array.
pub fn to_bytes(data: &[f32], rows: usize, cols: usize) -> Vec<u8> {
    assert_eq!(data.len(), rows * cols, "npy data length");
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + header length (2) + header + '\n' is padded to a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes a float32 `rows × cols` array atomically.
pub fn write(path: &Path, data: &[f32], rows: usize, cols: usize) -> Result<()> {
    crate::model::write_atomic(path, &to_bytes(data, rows, cols))
}

/// Reads a 2-D little-endian float32 C-order `.npy` file: (data, rows, cols).
pub fn read(path: &Path) -> Result<(Vec<f32>, usize, usize)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    from_bytes(&bytes, &path.display().to_string())
}

/// Parses the bytes of a 2-D little-endian float32 C-order `.npy` file; `name` (a path) starts
/// every error message.
pub fn from_bytes(bytes: &[u8], name: &str) -> Result<(Vec<f32>, usize, usize)> {
    let bad = |m: &str| Error::Shape(format!("{name}: {m}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file"));
    }
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(bytes.get(10..10 + hlen).ok_or_else(|| bad("truncated"))?)
        .map_err(|_| bad("header is not text"))?;
    if !header.contains("'<f4'") || !header.contains("'fortran_order': False") {
        return Err(bad("only little-endian float32 C-order arrays are read"));
    }
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let [rows, cols] = dims[..] else {
        return Err(bad("not a 2-D array"));
    };
    let body = &bytes[10 + hlen..];
    // A shape from a damaged header can overflow: it cannot match any real file then.
    let expected = rows.checked_mul(cols).and_then(|n| n.checked_mul(4));
    if expected != Some(body.len()) {
        return Err(bad("data length does not match the shape"));
    }
    let data = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((data, rows, cols))
}
