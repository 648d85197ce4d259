//! `<stem>.overlay.png`: the frame in grey with every cluster outlined, so a physicist can judge a
//! frame at a glance. The outline is drawn on the background pixels around a cluster (the grain
//! itself stays visible): green for a whole connected component, magenta for the pieces of a
//! component split at separate grains, whose shared border is marked magenta too. A red pixel
//! marks each cluster's sub-pixel position (`cog_x, cog_y`).

use crate::cluster_list::ClusterMap;
use crate::error::{Error, Result};
use crate::frame::Frame;
use std::path::Path;

const WHOLE: [u8; 3] = [40, 220, 60];
const SPLIT: [u8; 3] = [230, 40, 230];
const POSITION: [u8; 3] = [255, 30, 30];

/// The overlay as RGB bytes, `width × height × 3`, row-major.
pub fn overlay_rgb(frame: &Frame, map: &ClusterMap) -> Vec<u8> {
    let (w, h) = (frame.width, frame.height);
    let shift = frame.bits() - 8;
    let mut rgb: Vec<u8> = (0..frame.len())
        .flat_map(|i| {
            let g = (frame.value(i) >> shift) as u8;
            [g, g, g]
        })
        .collect();
    let mut paint = |i: usize, c: [u8; 3]| rgb[3 * i..3 * i + 3].copy_from_slice(&c);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let own = map.labels[i];
            // The neighbouring cluster this pixel borders (background pixels: any; cluster
            // pixels: another piece of a split component).
            let mut border: Option<u32> = None;
            for (dx, dy) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                let (qx, qy) = (x as i64 + dx, y as i64 + dy);
                if qx < 0 || qy < 0 || qx >= w as i64 || qy >= h as i64 {
                    continue;
                }
                let other = map.labels[qy as usize * w + qx as usize];
                if other != 0 && other != own {
                    border = Some(other);
                }
            }
            match (own, border) {
                (0, Some(l)) => {
                    paint(
                        i,
                        if map.split[l as usize - 1] {
                            SPLIT
                        } else {
                            WHOLE
                        },
                    );
                }
                (o, Some(_)) if map.split[o as usize - 1] => paint(i, SPLIT),
                _ => {}
            }
        }
    }
    for c in &map.clusters {
        let (x, y) = (c.cog_x.floor(), c.cog_y.floor());
        if x >= 0.0 && y >= 0.0 && (x as usize) < w && (y as usize) < h {
            paint(y as usize * w + x as usize, POSITION);
        }
    }
    rgb
}

/// Writes the overlay PNG atomically.
pub fn write_overlay(path: &Path, frame: &Frame, map: &ClusterMap) -> Result<()> {
    use image::ImageEncoder;
    let rgb = overlay_rgb(frame, map);
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(std::io::Cursor::new(&mut bytes))
        .write_image(
            &rgb,
            frame.width as u32,
            frame.height as u32,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::Frame {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    crate::model::write_atomic(path, &bytes)
}
