//! Microscope frames: 8- or 16-bit grayscale, read from PNG or TIFF (colour converted to luma with
//! a warning), packed for upload to the GPU.

use crate::error::{Error, Result};
use std::path::Path;

/// The largest frame side read from a file (a 1280×1024 station frame, or mosaics of them, fit
/// many times over); larger headers are refused before decoding.
pub const MAX_SIDE: usize = 16384;

/// The most memory the decoder may allocate for one frame (a 16384² 16-bit frame is 512 MiB).
const MAX_DECODE_BYTES: u64 = 1 << 30;

/// What a decoder's panic on a malformed file becomes.
const DECODER_PANIC: &str =
    "the image decoder failed on this file (it panicked): the file is corrupt";

thread_local! {
    /// Set while a third-party decoder runs on this thread: its panics are caught and reported
    /// as errors, so the panic hook stays quiet for them.
    static IN_DECODER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a third-party image decoder, turning a panic (the TIFF decoder indexes past the end of
/// some malformed files: found by tests/mutations.rs) into `None` without printing it; every
/// other panic still reaches the previous hook.
fn decoder_guard<T>(decode: impl FnOnce() -> T) -> Option<T> {
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_DECODER.get() {
                previous(info);
            }
        }));
    });
    IN_DECODER.set(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    IN_DECODER.set(false);
    result.ok()
}

/// Pixel storage of a frame, row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum Pixels {
    /// 8-bit pixels (0–255).
    U8(Vec<u8>),
    /// 16-bit pixels (0–65535).
    U16(Vec<u16>),
}

/// A grayscale frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Width (pixels).
    pub width: usize,
    /// Height (pixels).
    pub height: usize,
    /// The `width × height` pixels, row-major.
    pub pixels: Pixels,
}

impl Frame {
    /// An 8-bit frame; errors when `data` does not hold `width × height` pixels.
    pub fn from_u8(width: usize, height: usize, data: Vec<u8>) -> Result<Self> {
        check_len(width, height, data.len())?;
        Ok(Frame {
            width,
            height,
            pixels: Pixels::U8(data),
        })
    }

    /// A 16-bit frame; errors when `data` does not hold `width × height` pixels.
    pub fn from_u16(width: usize, height: usize, data: Vec<u16>) -> Result<Self> {
        check_len(width, height, data.len())?;
        Ok(Frame {
            width,
            height,
            pixels: Pixels::U16(data),
        })
    }

    /// Number of pixels.
    pub fn len(&self) -> usize {
        self.width * self.height
    }

    /// Whether the frame has no pixels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bits per pixel: 8 or 16.
    pub fn bits(&self) -> u32 {
        match self.pixels {
            Pixels::U8(_) => 8,
            Pixels::U16(_) => 16,
        }
    }

    /// The largest pixel value of the format (255 or 65535): p = value / max_value.
    pub fn max_value(&self) -> u32 {
        (1 << self.bits()) - 1
    }

    /// Raw value of pixel `i` (row-major).
    #[inline]
    pub fn value(&self, i: usize) -> u32 {
        match &self.pixels {
            Pixels::U8(v) => v[i] as u32,
            Pixels::U16(v) => v[i] as u32,
        }
    }

    /// The pixels packed little-end-first into u32 words (4 per word for u8, 2 for u16), the
    /// layout `frame_stats.wgsl` and `normalize.wgsl` read.
    pub fn packed_words(&self) -> Vec<u32> {
        match &self.pixels {
            Pixels::U8(v) => v
                .chunks(4)
                .map(|c| c.iter().rev().fold(0u32, |acc, &b| (acc << 8) | b as u32))
                .collect(),
            Pixels::U16(v) => v
                .chunks(2)
                .map(|c| c.iter().rev().fold(0u32, |acc, &b| (acc << 16) | b as u32))
                .collect(),
        }
    }

    /// The inverse of [`Frame::packed_words`]: a `width × height` frame of `bits` (8 or 16) bits
    /// from its packed words (e.g. read back from the GPU).
    pub fn from_packed_words(
        width: usize,
        height: usize,
        bits: u32,
        words: &[u32],
    ) -> Result<Self> {
        let count = width * height;
        let per_word = (32 / bits) as usize;
        if !(bits == 8 || bits == 16) || words.len() < count.div_ceil(per_word) {
            return Err(Error::Shape(format!(
                "{} packed words of {bits}-bit pixels cannot hold a {width}×{height} frame",
                words.len()
            )));
        }
        let mask = (1u32 << bits) - 1;
        let value = |i: usize| (words[i / per_word] >> ((i % per_word) as u32 * bits)) & mask;
        if bits == 8 {
            Frame::from_u8(width, height, (0..count).map(|i| value(i) as u8).collect())
        } else {
            Frame::from_u16(width, height, (0..count).map(|i| value(i) as u16).collect())
        }
    }

    /// Reads a PNG or TIFF frame. Returns the frame and warnings (e.g. colour converted to luma).
    /// Refused with a one-line reason: a directory or dangling link, an empty, truncated or
    /// corrupt file, another format (whatever the name says), no pixels or more than
    /// [`MAX_SIDE`] on a side (checked from the header, before decoding), an indexed-colour
    /// (palette) PNG, an alpha channel, floating-point pixels.
    pub fn load(path: &Path) -> Result<(Self, Vec<String>)> {
        let err = |message: String| Error::Frame {
            path: path.to_path_buf(),
            message,
        };
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Err(err("a directory, not a frame".into())),
            Err(_) if std::fs::symlink_metadata(path).is_ok() => {
                return Err(err("a symbolic link to a file that does not exist".into()));
            }
            _ => {}
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::decode(&bytes, path)
    }

    /// Decodes the bytes of a PNG or TIFF frame (what [`Frame::load`] does after reading the
    /// file); `path` names it in errors and warnings.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<(Self, Vec<String>)> {
        let err = |message: String| Error::Frame {
            path: path.to_path_buf(),
            message,
        };
        if bytes.is_empty() {
            return Err(err("the file is empty".into()));
        }
        // The content decides the format, not the file name.
        let format = image::guess_format(bytes)
            .map_err(|_| err("not a PNG or TIFF image (unrecognised content)".into()))?;
        if !matches!(format, image::ImageFormat::Png | image::ImageFormat::Tiff) {
            return Err(err(format!(
                "unsupported format {format:?} (PNG or TIFF expected)"
            )));
        }
        let reader = || image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
        // The header's size first: a few bytes can claim gigapixels (a decompression bomb).
        let (w, h) = decoder_guard(|| reader().into_dimensions())
            .ok_or_else(|| err(DECODER_PANIC.into()))?
            .map_err(|e| {
                err(format!(
                    "cannot read the header ({e}); the file may be truncated or corrupt"
                ))
            })?;
        if w == 0 || h == 0 {
            return Err(err(format!("the image has no pixels ({w}×{h})")));
        }
        if w as usize > MAX_SIDE || h as usize > MAX_SIDE {
            return Err(err(format!(
                "{w}×{h} pixels: larger than the {MAX_SIDE} pixels a side a frame may have"
            )));
        }
        // PNG colour type 3 (IHDR byte 25): pixel values are palette indices, not intensities.
        if format == image::ImageFormat::Png
            && bytes.get(12..16) == Some(&b"IHDR"[..])
            && bytes.get(25) == Some(&3)
        {
            return Err(err(
                "an indexed-colour (palette) PNG; save the frame as 8- or 16-bit grayscale".into(),
            ));
        }
        let mut decoder = reader();
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(MAX_DECODE_BYTES);
        decoder.limits(limits);
        let image = decoder_guard(|| decoder.decode())
            .ok_or_else(|| err(DECODER_PANIC.into()))?
            .map_err(|e| {
                err(format!(
                    "cannot decode ({e}); the file may be truncated or corrupt"
                ))
            })?;
        let (w, h) = (image.width() as usize, image.height() as usize);
        if image.color().has_alpha() {
            return Err(err(format!(
                "{:?} image with an alpha channel; save the frame as 8- or 16-bit grayscale",
                image.color()
            )));
        }
        if matches!(
            image,
            image::DynamicImage::ImageRgb32F(_) | image::DynamicImage::ImageRgba32F(_)
        ) {
            return Err(err(
                "floating-point pixels; emunet takes 8- or 16-bit integer frames".into(),
            ));
        }
        let mut warnings = Vec::new();
        use image::DynamicImage as D;
        let frame = match image {
            D::ImageLuma8(b) => Frame::from_u8(w, h, b.into_raw())?,
            D::ImageLuma16(b) => Frame::from_u16(w, h, b.into_raw())?,
            other => {
                let color = other.color();
                warnings.push(format!(
                    "{}: {color:?} image converted to grayscale (luma)",
                    path.display()
                ));
                if color.bytes_per_pixel() / color.channel_count() >= 2 {
                    Frame::from_u16(w, h, other.to_luma16().into_raw())?
                } else {
                    Frame::from_u8(w, h, other.to_luma8().into_raw())?
                }
            }
        };
        Ok((frame, warnings))
    }

    /// Writes the frame as a grayscale PNG (8- or 16-bit), atomically.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let mut bytes = Vec::new();
        let cursor = std::io::Cursor::new(&mut bytes);
        let encoder = image::codecs::png::PngEncoder::new(cursor);
        use image::ImageEncoder;
        let (w, h) = (self.width as u32, self.height as u32);
        let result = match &self.pixels {
            Pixels::U8(v) => encoder.write_image(v, w, h, image::ExtendedColorType::L8),
            Pixels::U16(v) => {
                // PNG stores 16-bit samples big-endian; the encoder takes native-endian bytes.
                let raw: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
                encoder.write_image(&raw, w, h, image::ExtendedColorType::L16)
            }
        };
        result.map_err(|e| Error::Frame {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        crate::model::write_atomic(path, &bytes)
    }
}

fn check_len(width: usize, height: usize, len: usize) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::Shape(format!(
            "frame of {width}×{height} pixels is empty"
        )));
    }
    if width * height != len {
        return Err(Error::Shape(format!(
            "frame of {width}×{height} needs {} pixels, got {len}",
            width * height
        )));
    }
    Ok(())
}
