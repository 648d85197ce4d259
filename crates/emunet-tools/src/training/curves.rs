//! `curves.png`: the training loss (left, log scale) and the validation Jaccard (right) per epoch,
//! as polylines with dots on light grids, with titles and axis values in a tiny built-in font
//! (a 3×5 glyph table: enough for numbers and a few capitals, no font files).

use crate::trainer::EpochRecord;
use emunet::error::{Error, Result};
use emunet::model::write_atomic;
use std::path::Path;

const W: i64 = 380; // one panel
const H: i64 = 260;
const LEFT: i64 = 56; // room for the value labels
const PAD: i64 = 24;
const SCALE: i64 = 2; // glyph pixel size

/// Draws the two panels and writes the PNG atomically.
pub fn draw_curves(records: &[EpochRecord], path: &Path) -> Result<()> {
    let mut img = image::RgbImage::from_pixel(2 * W as u32, H as u32, image::Rgb([255, 255, 255]));
    let losses: Vec<f64> = records.iter().map(|r| r.loss.max(1e-9).log10()).collect();
    let (lo, hi) = range(&losses);
    let (lo, hi) = (lo - 0.05, hi + 0.05);
    panel(&mut img, 0, "LOSS", &losses, (lo, hi), |v| {
        format_value(10f64.powf(v))
    });
    // The Jaccard axis spans the values seen (at least 0.05 wide), so late progress stays visible.
    let jaccards: Vec<f64> = records.iter().map(|r| r.val_jaccard).collect();
    let (lo, hi) = range(&jaccards);
    let mid = 0.5 * (lo + hi);
    let half = (0.5 * (hi - lo) + 0.01).max(0.025);
    let (lo, hi) = ((mid - half).max(0.0), (mid + half).min(1.0));
    panel(&mut img, W, "VAL JACCARD", &jaccards, (lo, hi), |v| {
        format!("{v:.3}")
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| Error::Shape(e.to_string()))?;
    write_atomic(path, &bytes)
}

fn range(values: &[f64]) -> (f64, f64) {
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    if lo > hi { (0.0, 1.0) } else { (lo, hi) }
}

/// Three significant digits, plain or with an exponent.
fn format_value(v: f64) -> String {
    if (0.01..1000.0).contains(&v.abs()) {
        format!("{v:.3}")
    } else {
        format!("{v:.1E}")
    }
}

fn panel(
    img: &mut image::RgbImage,
    x0: i64,
    title: &str,
    values: &[f64],
    (lo, hi): (f64, f64),
    label: impl Fn(f64) -> String,
) {
    let color = if x0 == 0 {
        [200, 60, 40]
    } else {
        [40, 90, 200]
    };
    let (left, right, top, bottom) = (x0 + LEFT, x0 + W - PAD, PAD, H - PAD);
    let n = values.len().max(2) as f64;
    let to_xy = |i: usize, v: f64| {
        let x = left + ((right - left) as f64 * i as f64 / (n - 1.0)) as i64;
        let f = ((v - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0);
        (x, bottom - ((bottom - top) as f64 * f) as i64)
    };
    for k in 0..=4 {
        let y = bottom - (bottom - top) * k / 4;
        line(img, (left, y), (right, y), [225, 225, 225]);
    }
    line(img, (left, top), (left, bottom), [0, 0, 0]);
    line(img, (left, bottom), (right, bottom), [0, 0, 0]);
    text(img, left, 6, title, [0, 0, 0]);
    // Values at the bottom and top grid lines, right-aligned against the axis.
    for (y, v) in [(bottom, lo), (top, hi)] {
        let s = label(v);
        text(img, left - 4 - text_width(&s), y - 5, &s, [90, 90, 90]);
    }
    // Epochs: 1 at the left end, the last at the right end.
    let last = values.len().max(1).to_string();
    text(img, left, bottom + 6, "EPOCH 1", [90, 90, 90]);
    text(
        img,
        right - text_width(&last),
        bottom + 6,
        &last,
        [90, 90, 90],
    );
    for i in 1..values.len() {
        line(img, to_xy(i - 1, values[i - 1]), to_xy(i, values[i]), color);
    }
    for (i, &v) in values.iter().enumerate() {
        let (x, y) = to_xy(i, v);
        for dy in -2..=2 {
            for dx in -2..=2 {
                put(img, x + dx, y + dy, color);
            }
        }
    }
}

/// The 3×5 glyphs, rows top to bottom, `#` = ink. Unknown characters draw as blanks.
fn glyph(c: char) -> [&'static str; 5] {
    match c {
        '0' => ["###", "#.#", "#.#", "#.#", "###"],
        '1' => [".#.", "##.", ".#.", ".#.", "###"],
        '2' => ["###", "..#", "###", "#..", "###"],
        '3' => ["###", "..#", "###", "..#", "###"],
        '4' => ["#.#", "#.#", "###", "..#", "..#"],
        '5' => ["###", "#..", "###", "..#", "###"],
        '6' => ["###", "#..", "###", "#.#", "###"],
        '7' => ["###", "..#", "..#", "..#", "..#"],
        '8' => ["###", "#.#", "###", "#.#", "###"],
        '9' => ["###", "#.#", "###", "..#", "###"],
        '.' => ["...", "...", "...", "...", ".#."],
        '-' => ["...", "...", "###", "...", "..."],
        '+' => ["...", ".#.", "###", ".#.", "..."],
        'A' => [".#.", "#.#", "###", "#.#", "#.#"],
        'C' => [".##", "#..", "#..", "#..", ".##"],
        'D' => ["##.", "#.#", "#.#", "#.#", "##."],
        'E' => ["###", "#..", "##.", "#..", "###"],
        'H' => ["#.#", "#.#", "###", "#.#", "#.#"],
        'J' => ["..#", "..#", "..#", "#.#", ".#."],
        'L' => ["#..", "#..", "#..", "#..", "###"],
        'O' => [".#.", "#.#", "#.#", "#.#", ".#."],
        'P' => ["##.", "#.#", "##.", "#..", "#.."],
        'R' => ["##.", "#.#", "##.", "#.#", "#.#"],
        'S' => [".##", "#..", ".#.", "..#", "##."],
        'V' => ["#.#", "#.#", "#.#", "#.#", ".#."],
        _ => ["...", "...", "...", "...", "..."],
    }
}

fn text_width(s: &str) -> i64 {
    s.chars().count() as i64 * 4 * SCALE - SCALE
}

fn text(img: &mut image::RgbImage, x: i64, y: i64, s: &str, c: [u8; 3]) {
    for (k, ch) in s.chars().enumerate() {
        for (row, bits) in glyph(ch).iter().enumerate() {
            for (col, b) in bits.bytes().enumerate() {
                if b == b'#' {
                    let (gx, gy) = (
                        x + (k as i64 * 4 + col as i64) * SCALE,
                        y + row as i64 * SCALE,
                    );
                    for dy in 0..SCALE {
                        for dx in 0..SCALE {
                            put(img, gx + dx, gy + dy, c);
                        }
                    }
                }
            }
        }
    }
}

fn put(img: &mut image::RgbImage, x: i64, y: i64, c: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, image::Rgb(c));
    }
}

fn line(img: &mut image::RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: [u8; 3]) {
    let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
    for s in 0..=steps {
        put(
            img,
            x0 + (x1 - x0) * s / steps,
            y0 + (y1 - y0) * s / steps,
            c,
        );
    }
}
