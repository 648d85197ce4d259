//! Reading frames: 8/16-bit grayscale PNG and TIFF, colour converted with a warning, clear errors
//! for empty, truncated and foreign files. CPU only.

use emunet::Frame;
use emunet::frame::Pixels;
use std::path::Path;

fn save(img: image::DynamicImage, path: &Path) {
    img.save(path).unwrap();
}

fn gray8(w: u32, h: u32) -> image::GrayImage {
    image::GrayImage::from_fn(w, h, |x, y| image::Luma([(x * 7 + y * 13) as u8]))
}

fn gray16(w: u32, h: u32) -> image::ImageBuffer<image::Luma<u16>, Vec<u16>> {
    image::ImageBuffer::from_fn(w, h, |x, y| image::Luma([(x * 1001 + y * 77) as u16]))
}

#[test]
fn png_and_tiff_8_and_16_bit() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["png", "tif"] {
        let p8 = dir.path().join(format!("a8.{ext}"));
        save(gray8(13, 7).into(), &p8);
        let (f, warnings) = Frame::load(&p8).unwrap();
        assert!(warnings.is_empty());
        assert_eq!((f.width, f.height, f.bits()), (13, 7, 8));
        assert_eq!(f.pixels, Pixels::U8(gray8(13, 7).into_raw()));

        let p16 = dir.path().join(format!("a16.{ext}"));
        save(gray16(9, 11).into(), &p16);
        let (f, _) = Frame::load(&p16).unwrap();
        assert_eq!((f.width, f.height, f.bits()), (9, 11, 16));
        assert_eq!(f.pixels, Pixels::U16(gray16(9, 11).into_raw()));
    }
}

#[test]
fn colour_is_converted_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rgb.png");
    let rgb = image::RgbImage::from_fn(6, 4, |x, _| image::Rgb([x as u8 * 40, 100, 200]));
    save(rgb.clone().into(), &p);
    let (f, warnings) = Frame::load(&p).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("converted to grayscale"));
    let luma = image::DynamicImage::from(rgb).to_luma8().into_raw();
    assert_eq!(f.pixels, Pixels::U8(luma));
}

#[test]
fn own_png_writer_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let f16 = Frame::from_u16(5, 3, (0..15).map(|i| i * 4000 + 7).collect()).unwrap();
    f16.save_png(&dir.path().join("x.png")).unwrap();
    assert_eq!(Frame::load(&dir.path().join("x.png")).unwrap().0, f16);
}

#[test]
fn bad_files_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let e = Frame::load(&empty).unwrap_err().to_string();
    assert!(e.contains("empty.png") && e.contains("empty"), "{e}");

    let text = dir.path().join("notes.png");
    std::fs::write(&text, b"this is not an image").unwrap();
    let e = Frame::load(&text).unwrap_err().to_string();
    assert!(e.contains("not a PNG or TIFF"), "{e}");

    let good = dir.path().join("good.png");
    save(gray8(64, 64).into(), &good);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.png");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let e = Frame::load(&truncated).unwrap_err().to_string();
    assert!(
        e.contains("truncated.png") && e.contains("cannot decode"),
        "{e}"
    );

    let jpeg = dir.path().join("photo.jpg");
    std::fs::write(
        &jpeg,
        [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0],
    )
    .unwrap();
    let e = Frame::load(&jpeg).unwrap_err().to_string();
    assert!(e.contains("unsupported format"), "{e}");

    let missing = Frame::load(&dir.path().join("none.png"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("none.png"), "{missing}");
}

#[test]
fn wrong_pixel_count_is_a_shape_error() {
    assert!(Frame::from_u8(4, 4, vec![0; 15]).is_err());
    assert!(Frame::from_u16(0, 4, vec![]).is_err());
}

#[test]
fn packed_words_little_end_first() {
    let f = Frame::from_u8(5, 1, vec![1, 2, 3, 4, 5]).unwrap();
    assert_eq!(f.packed_words(), vec![0x04030201, 0x05]);
    let f = Frame::from_u16(3, 1, vec![0x1111, 0x2222, 0x3333]).unwrap();
    assert_eq!(f.packed_words(), vec![0x2222_1111, 0x3333]);
}
