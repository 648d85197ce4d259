//! A corpus of malformed inputs, generated here, through the CLI: frames (empty, truncated,
//! corrupt CRC and zlib, decompression bombs, zero and 2³¹ dimensions, palette, alpha and float
//! images, other formats under a PNG or TIFF name, dangling links, directories named like
//! frames) and weights files (every way the safetensors container or its metadata can be wrong).
//! For each: non-zero exit, one line naming the file and the problem, the good frames of the
//! same run still processed, and no output file for the bad one.

use crate::common::emunet;
use std::path::Path;

/// CRC-32 (IEEE) of PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// A zlib stream of stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65535).collect()
    };
    for (i, block) in blocks.iter().enumerate() {
        out.push((i + 1 == blocks.len()) as u8);
        let n = block.len() as u16;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// A PNG from its parts: IHDR (width, height, bit depth, colour type), extra chunks, then IDAT
/// holding `raw` (filter bytes included) and IEND.
fn png(w: u32, h: u32, depth: u8, colour: u8, extra: &[Vec<u8>], raw: &[u8]) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    for c in extra {
        out.extend_from_slice(c);
    }
    out.extend(chunk(b"IDAT", &zlib_stored(raw)));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// Raw 8-bit gray scanlines (filter 0) of a w×h frame with something to find.
fn gray_rows(w: u32, h: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0);
        raw.extend((0..w).map(|x| if (x / 3 + y / 3) % 5 == 0 { 60 } else { 210 }));
    }
    raw
}

fn encoded(image: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

/// The bad frames: (file name, what the message must say, how to make it).
fn bad_frames(dir: &Path) -> Vec<(&'static str, &'static str)> {
    let good = png(24, 24, 8, 0, &[], &gray_rows(24, 24));
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    let mut cases = Vec::new();
    let mut case = |name: &'static str, needle: &'static str, bytes: Option<Vec<u8>>| {
        if let Some(b) = bytes {
            write(name, &b);
        }
        cases.push((name, needle));
    };
    case("empty.png", "empty", Some(Vec::new()));
    case("signature_only.png", "", Some(good[..8].to_vec()));
    case("header_only.png", "", Some(good[..33].to_vec()));
    case("truncated.png", "", Some(good[..good.len() / 2].to_vec()));
    let mut bad_crc = good.clone();
    bad_crc[29] ^= 0xFF; // the IHDR CRC
    case("bad_crc.png", "", Some(bad_crc));
    let mut bad_idat_crc = good.clone();
    let n = bad_idat_crc.len();
    bad_idat_crc[n - 13] ^= 0x55; // the IDAT CRC, before IEND
    case("bad_idat_crc.png", "", Some(bad_idat_crc));
    let mut zlib = png(24, 24, 8, 0, &[], &gray_rows(24, 24));
    let idat = zlib.windows(4).position(|w| w == b"IDAT").unwrap() + 4;
    zlib[idat] = 0x12; // not a zlib header (the chunk's CRC is redone below)
    let len = u32::from_be_bytes(zlib[idat - 8..idat - 4].try_into().unwrap()) as usize;
    let crc = crc32(&zlib[idat - 4..idat + len]);
    zlib[idat + len..idat + len + 4].copy_from_slice(&crc.to_be_bytes());
    case("corrupt_zlib.png", "", Some(zlib));
    case(
        "short_rows.png",
        "",
        Some(png(24, 24, 8, 0, &[], &gray_rows(24, 10))),
    );
    case("bad_filter.png", "", Some(png(4, 4, 8, 0, &[], &[9; 20])));
    // A header claiming 100,000² pixels with a few bytes of data: refused from the header.
    case(
        "bomb.png",
        "larger than",
        Some(png(100_000, 100_000, 8, 0, &[], &[0; 16])),
    );
    case(
        "bomb_wide.png",
        "larger than",
        Some(png(1 << 24, 2, 16, 0, &[], &[0; 16])),
    );
    case(
        "dims_2_31.png",
        "",
        Some(png(1 << 31, 1 << 31, 8, 0, &[], &[0; 16])),
    );
    case("zero_width.png", "", Some(png(0, 24, 8, 0, &[], &[])));
    case("zero_height.png", "", Some(png(24, 0, 8, 0, &[], &[])));
    case("bad_depth.png", "", Some(png(4, 4, 7, 0, &[], &[0; 20])));
    let plte = chunk(b"PLTE", &[0, 0, 0, 128, 128, 128, 255, 255, 255]);
    let indices: Vec<u8> = (0..8)
        .flat_map(|y| {
            [0u8]
                .into_iter()
                .chain((0..8).map(move |x| ((x + y) % 3) as u8))
        })
        .collect();
    case(
        "palette.png",
        "palette",
        Some(png(8, 8, 8, 3, &[plte], &indices)),
    );
    let gray_alpha = image::GrayAlphaImage::from_pixel(16, 16, image::LumaA([100, 200]));
    case(
        "gray_alpha.png",
        "alpha",
        Some(encoded(gray_alpha.into(), image::ImageFormat::Png)),
    );
    let rgba = image::RgbaImage::from_pixel(16, 16, image::Rgba([10, 20, 30, 40]));
    case(
        "rgba.png",
        "alpha",
        Some(encoded(rgba.into(), image::ImageFormat::Png)),
    );
    let rgba16 =
        image::ImageBuffer::<image::Rgba<u16>, _>::from_pixel(16, 16, image::Rgba([1, 2, 3, 4]));
    case(
        "rgba16.tif",
        "alpha",
        Some(encoded(rgba16.into(), image::ImageFormat::Tiff)),
    );
    let float = image::Rgb32FImage::from_pixel(16, 16, image::Rgb([0.5, 0.5, 0.5]));
    case(
        "float.tif",
        "floating-point",
        Some(encoded(float.into(), image::ImageFormat::Tiff)),
    );
    case(
        "jpeg.png",
        "unsupported format",
        Some(vec![
            0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0,
        ]),
    );
    case(
        "gif.tif",
        "unsupported format",
        Some(b"GIF89a\x10\x00\x10\x00\x00\x00\x00;".to_vec()),
    );
    case(
        "bmp.png",
        "unsupported format",
        Some(b"BM\x3a\x00\x00\x00\x00\x00\x00\x00".to_vec()),
    );
    case(
        "text.png",
        "not a PNG or TIFF",
        Some(b"frame 1 of run 7\n".to_vec()),
    );
    case("zeros.tiff", "", Some(vec![0; 64]));
    let tiff = encoded(
        image::GrayImage::from_pixel(24, 24, image::Luma([90])).into(),
        image::ImageFormat::Tiff,
    );
    case("cut.tif", "", Some(tiff[..tiff.len() / 3].to_vec()));
    case(
        "tiff_header_only.tif",
        "",
        Some(b"II*\x00\x08\x00\x00\x00".to_vec()),
    );
    case(
        "tiff_ifd_past_end.tif",
        "",
        Some(b"II*\x00\xff\xff\x00\x00\x00\x00".to_vec()),
    );
    case(
        "tiny.png",
        "smaller than 2^D",
        Some(png(2, 2, 8, 0, &[], &gray_rows(2, 2))),
    );
    std::fs::create_dir(dir.join("folder.png")).unwrap();
    case("folder.png", "directory", None);
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.join("gone.png"), dir.join("dangling.png")).unwrap();
        case("dangling.png", "link", None);
    }
    write("good.png", &good);
    let wide = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(24, 24, |x, y| {
        image::Luma([if (x / 3 + y / 3) % 5 == 0 {
            15000
        } else {
            54000
        }])
    });
    write(
        "good16.tif",
        &encoded(wide.into(), image::ImageFormat::Tiff),
    );
    cases
}

#[test]
fn malformed_frames_are_refused_one_line_each_and_the_rest_is_processed() {
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    let cases = bad_frames(&frames);
    assert!(cases.len() >= 30, "{} frame cases", cases.len());
    let out = dir.path().join("out");
    let weights = dir.path().join("w.safetensors");
    let (ok, ..) = emunet(&[
        "init",
        "--depth",
        "2",
        "--channels",
        "2",
        "--out",
        weights.to_str().unwrap(),
    ]);
    assert!(ok);
    let (ok, so, se) = emunet(&[
        "segment",
        "--weights",
        weights.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        frames.to_str().unwrap(),
    ]);
    assert!(!ok, "a run with bad frames must exit non-zero");
    assert!(
        so.contains(&format!("2 frame(s) segmented, {} failed", cases.len())),
        "{so}"
    );
    for (name, needle) in &cases {
        let lines: Vec<&str> = se.lines().filter(|l| l.contains(name)).collect();
        assert_eq!(lines.len(), 1, "{name}: one line expected in\n{se}");
        assert!(
            lines[0].contains(needle),
            "{name}: {:?} lacks {needle:?}",
            lines[0]
        );
        let stem = name.rsplit_once('.').unwrap().0;
        let left: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{stem}."))
            })
            .collect();
        assert!(left.is_empty(), "{name}: output left behind: {left:?}");
    }
    for good in ["good", "good16"] {
        for ext in ["mask.png", "prob.npy", "clusters.csv"] {
            assert!(out.join(format!("{good}.{ext}")).is_file(), "{good}.{ext}");
        }
    }
    // Nothing but the good frames' outputs (no temporary files either).
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
}

/// A safetensors file from a JSON header and data bytes.
fn safetensors(header: &serde_json::Value, data: &[u8]) -> Vec<u8> {
    let text = serde_json::to_vec(header).unwrap();
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(data);
    out
}

/// The bad weights files: (file name, what the message must say).
fn bad_weights(dir: &Path) -> Vec<(String, &'static str)> {
    let good = emunet::Model::init_he(2, 2, 7).unwrap().to_bytes().unwrap();
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&good[8..8 + n]).unwrap();
    let data = good[8 + n..].to_vec();
    let first = header
        .as_object()
        .unwrap()
        .keys()
        .find(|k| *k != "__metadata__")
        .unwrap()
        .clone();
    let mut cases = Vec::new();
    let mut case = |name: &str, needle: &'static str, bytes: Vec<u8>| {
        std::fs::write(dir.join(name), bytes).unwrap();
        cases.push((name.to_string(), needle));
    };
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut h = header.clone();
        f(&mut h);
        safetensors(&h, &data)
    };
    let meta = |key: &'static str, value: Option<&'static str>| {
        edit(&move |h| {
            let m = h["__metadata__"].as_object_mut().unwrap();
            match value {
                Some(v) => m.insert(key.into(), v.into()),
                None => m.remove(key),
            };
        })
    };
    case("empty.safetensors", "", Vec::new());
    case("short.safetensors", "", good[..5].to_vec());
    case("length_only.safetensors", "", good[..8].to_vec());
    case("cut_header.safetensors", "", good[..8 + n / 2].to_vec());
    case(
        "cut_data.safetensors",
        "",
        good[..good.len() - 100].to_vec(),
    );
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    case("header_length_max.safetensors", "", huge);
    let mut past = good.clone();
    past[..8].copy_from_slice(&((good.len() as u64) + 10).to_le_bytes());
    case("header_past_end.safetensors", "", past);
    let mut not_json = (12u64).to_le_bytes().to_vec();
    not_json.extend_from_slice(b"{not json!!}");
    case("not_json.safetensors", "", not_json);
    case(
        "array_header.safetensors",
        "",
        safetensors(&serde_json::json!([1, 2]), &data),
    );
    case(
        "extra_bytes.safetensors",
        "",
        [good.clone(), vec![0; 12]].concat(),
    );
    case(
        "missing_tensor.safetensors",
        "",
        edit(&|h| {
            h.as_object_mut().unwrap().remove(&first);
        }),
    );
    case("extra_tensor.safetensors", "", {
        let mut d = data.clone();
        d.extend_from_slice(&[0; 8]);
        let mut h = header.clone();
        h["spare.weight"] = serde_json::json!({"dtype": "F32", "shape": [2], "data_offsets": [data.len(), data.len() + 8]});
        safetensors(&h, &d)
    });
    case(
        "wrong_shape.safetensors",
        "",
        edit(&|h| {
            let shape = h[&first]["shape"].as_array_mut().unwrap();
            shape.reverse();
            shape.push(serde_json::json!(1));
        }),
    );
    case(
        "wrong_dtype.safetensors",
        "",
        edit(&|h| h[&first]["dtype"] = "F16".into()),
    );
    case(
        "unknown_dtype.safetensors",
        "",
        edit(&|h| h[&first]["dtype"] = "Q4".into()),
    );
    case(
        "offsets_past_end.safetensors",
        "",
        edit(&|h| {
            h[&first]["data_offsets"] = serde_json::json!([0, data.len() * 4]);
        }),
    );
    case(
        "offsets_reversed.safetensors",
        "",
        edit(&|h| {
            h[&first]["data_offsets"] = serde_json::json!([8, 0]);
        }),
    );
    case("nan.safetensors", "", {
        let mut bad = good.clone();
        let at = 8 + n;
        bad[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        bad
    });
    case("inf.safetensors", "", {
        let mut bad = good.clone();
        let at = good.len() - 4;
        bad[at..].copy_from_slice(&f32::INFINITY.to_le_bytes());
        bad
    });
    case(
        "no_metadata.safetensors",
        "",
        edit(&|h| {
            h.as_object_mut().unwrap().remove("__metadata__");
        }),
    );
    case("no_format.safetensors", "format", meta("format", None));
    case(
        "other_format.safetensors",
        "format",
        meta("format", Some("emunet-unet/9")),
    );
    case("no_depth.safetensors", "depth", meta("depth", None));
    case(
        "depth_text.safetensors",
        "depth",
        meta("depth", Some("three")),
    );
    case("depth_zero.safetensors", "", meta("depth", Some("0")));
    case("depth_huge.safetensors", "", meta("depth", Some("40")));
    case(
        "channels_zero.safetensors",
        "",
        meta("base_channels", Some("0")),
    );
    case(
        "channels_negative.safetensors",
        "base_channels",
        meta("base_channels", Some("-4")),
    );
    case(
        "threshold_nan.safetensors",
        "threshold",
        meta("threshold", Some("NaN")),
    );
    case(
        "threshold_above_one.safetensors",
        "threshold",
        meta("threshold", Some("1.5")),
    );
    case(
        "normalization_bogus.safetensors",
        "normalization",
        meta("normalization", Some("bogus")),
    );
    case(
        "png_as_weights.safetensors",
        "",
        png(4, 4, 8, 0, &[], &gray_rows(4, 4)),
    );
    std::fs::create_dir(dir.join("folder.safetensors")).unwrap();
    cases.push(("folder.safetensors".into(), ""));
    cases.push(("missing.safetensors".into(), ""));
    cases
}

#[test]
fn malformed_weights_are_refused_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = bad_weights(dir.path());
    assert!(cases.len() >= 30, "{} weights cases", cases.len());
    let frame = dir.path().join("f.png");
    std::fs::write(&frame, png(16, 16, 8, 0, &[], &gray_rows(16, 16))).unwrap();
    for (name, needle) in &cases {
        let path = dir.path().join(name);
        // The library refuses it with an error value (no panic) …
        assert!(emunet::Model::load(&path).is_err(), "{name} loaded");
        // … and the CLI with one line naming the file, a non-zero exit and no output.
        let out = dir.path().join(format!("out_{name}"));
        let (ok, _, se) = emunet(&[
            "segment",
            "--weights",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            frame.to_str().unwrap(),
        ]);
        assert!(!ok, "{name}: exit status 0");
        let lines: Vec<&str> = se
            .lines()
            .filter(|l| l.contains("error") && !l.contains("XDG_RUNTIME_DIR"))
            .collect();
        assert_eq!(lines.len(), 1, "{name}: one error line expected in\n{se}");
        assert!(
            lines[0].contains(name.as_str()),
            "{name}: {:?} does not name the file",
            lines[0]
        );
        assert!(
            lines[0].contains(needle),
            "{name}: {:?} lacks {needle:?}",
            lines[0]
        );
        assert!(!out.join("f.mask.png").exists(), "{name}: output written");
    }
}

#[test]
fn malformed_training_folders_are_reported_and_the_good_pairs_trained_on() {
    let dir = tempfile::tempdir().unwrap();
    let (images, masks) = (dir.path().join("images"), dir.path().join("masks"));
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&masks).unwrap();
    let frame = || png(32, 32, 8, 0, &[], &gray_rows(32, 32));
    // A binary mask in 8 bits: 0 and `on` (filter byte 0 per row).
    let mask = |w: u32, h: u32, on: u8, other: Option<u8>| {
        let mut raw = Vec::new();
        for y in 0..h {
            raw.push(0);
            raw.extend((0..w).map(|x| match (x + y) % 4 {
                0 => on,
                1 => other.unwrap_or(0),
                _ => 0,
            }));
        }
        png(w, h, 8, 0, &[], &raw)
    };
    let pair = |name: &str, m: Vec<u8>| {
        std::fs::write(images.join(format!("{name}.png")), frame()).unwrap();
        std::fs::write(masks.join(format!("{name}.png")), m).unwrap();
    };
    // Good pairs: 0/255, 0/1 and a 16-bit 0/65535 mask.
    pair("good_a", mask(32, 32, 255, None));
    pair("good_b", mask(32, 32, 1, None));
    let deep = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(32, 32, |x, _| {
        image::Luma([if x % 4 == 0 { 65535 } else { 0 }])
    });
    std::fs::write(images.join("good_c.png"), frame()).unwrap();
    std::fs::write(
        masks.join("good_c.png"),
        encoded(deep.into(), image::ImageFormat::Png),
    )
    .unwrap();
    // Bad ones: (file named in the message, what it must say).
    let mut cases: Vec<(&str, &str)> = Vec::new();
    std::fs::write(images.join("no_mask.png"), frame()).unwrap();
    cases.push(("no_mask.png", "no mask"));
    std::fs::write(masks.join("no_image.png"), mask(32, 32, 255, None)).unwrap();
    cases.push(("no_image.png", "no image"));
    pair("other_size", mask(16, 32, 255, None));
    cases.push(("other_size.png", "16×32"));
    pair("empty_mask", mask(32, 32, 0, None));
    cases.push(("empty_mask.png", "empty"));
    pair("grey_mask", mask(32, 32, 255, Some(128)));
    cases.push(("grey_mask.png", "binary"));
    pair("mixed_mask", mask(32, 32, 255, Some(1)));
    cases.push(("mixed_mask.png", "binary"));
    pair(
        "alpha_mask",
        encoded(
            image::GrayAlphaImage::from_pixel(32, 32, image::LumaA([255, 255])).into(),
            image::ImageFormat::Png,
        ),
    );
    cases.push(("alpha_mask.png", "alpha"));
    std::fs::write(images.join("broken.png"), &frame()[..60]).unwrap();
    std::fs::write(masks.join("broken.png"), mask(32, 32, 255, None)).unwrap();
    cases.push(("broken.png", "truncated"));
    let out = dir.path().join("run");
    let (ok, _, se) = emunet(&[
        "train",
        "--data",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--depth",
        "1",
        "--channels",
        "2",
        "--epochs",
        "1",
        "--steps",
        "2",
        "--batch",
        "1",
        "--crop",
        "16",
        "--seed",
        "3",
    ]);
    assert!(
        !ok,
        "a training folder with bad files must end with a non-zero exit"
    );
    for (name, needle) in &cases {
        let lines: Vec<&str> = se
            .lines()
            .filter(|l| l.contains(&format!("/{name}")))
            .collect();
        assert_eq!(lines.len(), 1, "{name}: one line expected in\n{se}");
        assert!(
            lines[0].contains(needle),
            "{name}: {:?} lacks {needle:?}",
            lines[0]
        );
    }
    assert!(
        se.contains(&format!(
            "error: {} file(s) of the training folder were skipped",
            cases.len()
        )),
        "{se}"
    );
    // The good pairs were trained on.
    assert!(out.join("best.safetensors").is_file());
    emunet::Model::load(&out.join("best.safetensors")).unwrap();
}
