//! Metrics on hand-made cases with known answers. CPU only.

use emunet_tools::eval::{PixelCounts, mask_centroids, match_positions};

#[test]
fn pixel_scores() {
    let truth = [255, 255, 255, 0, 0, 0];
    let pred = [255, 255, 0, 255, 0, 0];
    let c = PixelCounts::compare(&pred, &truth);
    assert_eq!((c.tp, c.fp, c.fn_), (2, 1, 1));
    assert!((c.jaccard() - 0.5).abs() < 1e-12);
    assert!((c.dice() - 2.0 / 3.0).abs() < 1e-12);
    assert!((c.precision() - 2.0 / 3.0).abs() < 1e-12 && (c.recall() - 2.0 / 3.0).abs() < 1e-12);
    let empty = PixelCounts::compare(&[0, 0], &[0, 0]);
    assert_eq!(empty.jaccard(), 1.0);
}

#[test]
fn matching_is_one_to_one_closest_first() {
    // Grain A at (10, 10), B at (11, 10); one cluster at (10.9, 10): B (0.1 away) takes it, A is
    // left unmatched although the cluster is within 1.5 px of A too.
    let grains = [(10.0, 10.0), (11.0, 10.0)];
    let clusters = [(10.9, 10.0), (30.0, 30.0)];
    let m = match_positions(&grains, &clusters, 1.5);
    assert_eq!((m.grains, m.clusters, m.matched), (2, 2, 1));
    assert!((m.efficiency() - 0.5).abs() < 1e-12 && (m.purity() - 0.5).abs() < 1e-12);
    assert!((m.rms() - 0.1).abs() < 1e-9);
    let (dx, dy) = m.mean_offset();
    assert!((dx + 0.1).abs() < 1e-9 && dy.abs() < 1e-12);
    // Out of radius: no match.
    assert_eq!(
        match_positions(&[(0.0, 0.0)], &[(1.6, 0.0)], 1.5).matched,
        0
    );
    // Exactly at the radius counts.
    assert_eq!(
        match_positions(&[(0.0, 0.0)], &[(1.5, 0.0)], 1.5).matched,
        1
    );
}

#[test]
fn systematic_half_pixel_offset_shows_in_the_mean() {
    let grains: Vec<(f64, f64)> = (0..20).map(|i| (5.0 + 10.0 * i as f64, 5.0)).collect();
    let clusters: Vec<(f64, f64)> = grains.iter().map(|&(x, y)| (x + 0.5, y + 0.5)).collect();
    let m = match_positions(&grains, &clusters, 1.5);
    assert_eq!(m.matched, 20);
    let (dx, dy) = m.mean_offset();
    assert!((dx - 0.5).abs() < 1e-9 && (dy - 0.5).abs() < 1e-9);
}

#[test]
fn mask_centroids_use_pixel_centres() {
    // One 2×2 block at x, y ∈ 1..3 in a 4×4 mask: centroid (2, 2).
    let mut mask = [0u8; 16];
    for (x, y) in [(1, 1), (2, 1), (1, 2), (2, 2)] {
        mask[y * 4 + x] = 255;
    }
    assert_eq!(mask_centroids(&mask, 4, 4), vec![(2.0, 2.0)]);
}
