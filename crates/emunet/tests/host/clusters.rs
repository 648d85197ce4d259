//! Connected components and cluster measurements against a simple flood-fill reference on random
//! masks, both connectivities; the CSV contract. CPU only.

use crate::common::{random_mask, rng};
use emunet::clusters::{self, CSV_HEADER, Connectivity};
use rand::RngExt;

/// Breadth-first flood fill from each unlabelled pixel in raster order: an independent labelling.
fn flood_fill(mask: &[u8], w: usize, h: usize, conn: Connectivity) -> Vec<Vec<usize>> {
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    for start in 0..w * h {
        if mask[start] == 0 || seen[start] {
            continue;
        }
        let mut pixels = vec![start];
        seen[start] = true;
        let mut k = 0;
        while k < pixels.len() {
            let (x, y) = ((pixels[k] % w) as i64, (pixels[k] / w) as i64);
            k += 1;
            for dy in -1..=1i64 {
                for dx in -1..=1i64 {
                    if (dx, dy) == (0, 0) || (conn == Connectivity::Four && dx != 0 && dy != 0) {
                        continue;
                    }
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let n = ny as usize * w + nx as usize;
                    if mask[n] != 0 && !seen[n] {
                        seen[n] = true;
                        pixels.push(n);
                    }
                }
            }
        }
        pixels.sort();
        out.push(pixels);
    }
    out
}

#[test]
fn labels_match_flood_fill_on_random_masks() {
    for (seed, (w, h, density)) in [
        (17, 13, 0.3),
        (40, 31, 0.45),
        (64, 64, 0.55),
        (1, 9, 0.5),
        (9, 1, 0.5),
        (100, 80, 0.2),
    ]
    .into_iter()
    .enumerate()
    {
        let mask = random_mask(seed as u64, w, h, density);
        let weight: Vec<f32> = {
            let mut r = rng(seed as u64 + 100);
            (0..w * h).map(|_| r.random_range(0.0..10.0)).collect()
        };
        for conn in [Connectivity::Four, Connectivity::Eight] {
            let expected = flood_fill(&mask, w, h, conn);
            let (labels, n) = clusters::label(&mask, w, h, conn);
            assert_eq!(n, expected.len(), "{w}x{h} {conn:?}: cluster count");
            let found = clusters::measure(&labels, n, w, Some(&weight), (0.25, -0.5));
            for (id, pixels) in expected.iter().enumerate() {
                // Raster order: cluster id k holds the k-th first-met pixel.
                for &p in pixels {
                    assert_eq!(labels[p] as usize, id + 1, "{w}x{h} {conn:?}: pixel {p}");
                }
                let c = &found[id];
                let n = pixels.len() as f64;
                let cx = pixels.iter().map(|&p| (p % w) as f64 + 0.5).sum::<f64>() / n;
                let cy = pixels.iter().map(|&p| (p / w) as f64 + 0.5).sum::<f64>() / n;
                let sw: f64 = pixels.iter().map(|&p| weight[p] as f64).sum();
                let gx = pixels
                    .iter()
                    .map(|&p| weight[p] as f64 * ((p % w) as f64 + 0.5))
                    .sum::<f64>()
                    / sw;
                let gy = pixels
                    .iter()
                    .map(|&p| weight[p] as f64 * ((p / w) as f64 + 0.5))
                    .sum::<f64>()
                    / sw;
                let peak = pixels
                    .iter()
                    .copied()
                    .fold(pixels[0], |b, p| if weight[p] > weight[b] { p } else { b });
                let mxx = pixels
                    .iter()
                    .map(|&p| ((p % w) as f64 + 0.5 - cx).powi(2))
                    .sum::<f64>()
                    / n;
                let mxy = pixels
                    .iter()
                    .map(|&p| ((p % w) as f64 + 0.5 - cx) * ((p / w) as f64 + 0.5 - cy))
                    .sum::<f64>()
                    / n;
                assert_eq!(c.id, id);
                assert_eq!(c.area, pixels.len());
                assert!((c.x - (cx + 0.25)).abs() < 1e-9 && (c.y - (cy - 0.5)).abs() < 1e-9);
                // Weights are summed in units of 2^-16, truncated (clusters::fixed_weight): the
                // volume is short by less than 2^-16 per pixel, the centre of gravity moves by
                // less than 2^-16 · area · extent / volume (here ≤ 1e-5 px).
                let bound = n * (w.max(h) as f64) / 65536.0 / sw;
                assert!(
                    (c.cog_x - (gx + 0.25)).abs() <= bound && (c.cog_y - (gy - 0.5)).abs() <= bound,
                    "cog ({}, {}) vs ({gx}, {gy})",
                    c.cog_x,
                    c.cog_y
                );
                assert!(c.volume <= sw && sw - c.volume < n / 65536.0);
                assert_eq!(
                    (c.peak_x, c.peak_y),
                    ((peak % w) as f64 + 0.75, (peak / w) as f64)
                );
                assert!((c.mxx - mxx).abs() < 1e-9 && (c.mxy - mxy).abs() < 1e-9);
                let (xs, ys): (Vec<usize>, Vec<usize>) =
                    pixels.iter().map(|&p| (p % w, p / w)).unzip();
                assert_eq!(
                    (c.x0, c.y0, c.x1, c.y1),
                    (
                        *xs.iter().min().unwrap(),
                        *ys.iter().min().unwrap(),
                        xs.iter().max().unwrap() + 1,
                        ys.iter().max().unwrap() + 1
                    )
                );
            }
        }
    }
}

#[test]
fn diagonal_pixels_join_only_with_eight_connectivity() {
    #[rustfmt::skip]
    let mask = [
        255, 0, 0,
        0, 255, 0,
        0, 0, 255,
    ];
    assert_eq!(clusters::label(&mask, 3, 3, Connectivity::Eight).1, 1);
    assert_eq!(clusters::label(&mask, 3, 3, Connectivity::Four).1, 3);
}

#[test]
fn u_shape_merges_into_one_cluster_numbered_by_first_pixel() {
    // Two arms that meet only on the last row: provisional labels must merge.
    #[rustfmt::skip]
    let mask = [
        0, 255, 0, 255,
        0, 255, 0, 255,
        255, 255, 255, 255,
    ];
    let (labels, n) = clusters::label(&mask, 4, 3, Connectivity::Four);
    assert_eq!(n, 1);
    assert!(
        labels
            .iter()
            .zip(&mask)
            .all(|(&l, &m)| (l == 1) == (m != 0))
    );
}

#[test]
fn csv_header_is_the_contract_and_rows_follow_it() {
    assert_eq!(
        CSV_HEADER,
        "id,x,y,area,volume,cog_x,cog_y,peak,peak_x,peak_y,x0,y0,x1,y1,mxx,mxy,myy"
    );
    let mask = [0, 255, 255, 0, 0, 0, 0, 0, 255];
    let found = clusters::find_clusters(&mask, 3, 3, Connectivity::Eight, None, (0.0, 0.0));
    let csv = clusters::to_csv(&found);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], CSV_HEADER);
    assert_eq!(
        lines[1],
        "0,2.0000,0.5000,2,2.0000,2.0000,0.5000,1.0000,1.5000,0.5000,1,0,3,1,0.2500,0.0000,0.0000"
    );
    assert_eq!(lines.len(), 3);
    let json: serde_json::Value = serde_json::from_str(&clusters::to_json(&found)).unwrap();
    assert_eq!(json[1]["x"], 2.5);
}

#[test]
fn area_cuts_renumber_from_zero() {
    let mask = [255, 0, 255, 255, 0, 255, 255, 255, 0];
    let all = clusters::find_clusters(&mask, 9, 1, Connectivity::Eight, None, (0.0, 0.0));
    assert_eq!(
        all.iter().map(|c| c.area).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let kept = clusters::filter_area(all, 2, 2);
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].id, kept[0].area), (0, 2));
}
