//! `curves.png`: a PNG with both panels drawn and labelled, for any number of epochs. CPU only.

use emunet_tools::curves::draw_curves;
use emunet_tools::trainer::EpochRecord;

fn record(epoch: usize, loss: f64, val_jaccard: f64) -> EpochRecord {
    EpochRecord {
        epoch,
        step: epoch as u32 * 100,
        loss,
        val_jaccard,
        threshold: 0.5,
        lr: 1e-3,
        seconds: 1.0,
    }
}

fn count(img: &image::RgbImage, c: [u8; 3]) -> usize {
    img.pixels().filter(|p| p.0 == c).count()
}

#[test]
fn curves_have_both_series_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curves.png");
    let records: Vec<EpochRecord> = (1..=14)
        .map(|e| record(e, 0.3 / e as f64, 0.82 + 0.003 * e as f64))
        .collect();
    draw_curves(&records, &path).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (760, 260));
    // Loss (red) and Jaccard (blue) series, black titles, grey labels.
    for (what, c) in [
        ("loss", [200, 60, 40]),
        ("jaccard", [40, 90, 200]),
        ("titles", [0, 0, 0]),
        ("labels", [90, 90, 90]),
    ] {
        assert!(count(&img, c) > 50, "{what}: {} pixels", count(&img, c));
    }
    // The Jaccard axis zooms to the values: the points span most of the panel's height.
    let rows: Vec<u32> = img
        .enumerate_pixels()
        .filter(|(x, _, p)| *x >= 380 && p.0 == [40, 90, 200])
        .map(|(_, y, _)| y)
        .collect();
    let span = rows.iter().max().unwrap() - rows.iter().min().unwrap();
    assert!(span > 120, "Jaccard points span only {span} rows");
}

#[test]
fn curves_of_one_epoch_and_of_none_are_drawn() {
    let dir = tempfile::tempdir().unwrap();
    for records in [vec![record(1, 0.5, 0.7)], vec![]] {
        let path = dir.path().join(format!("c{}.png", records.len()));
        draw_curves(&records, &path).unwrap();
        assert_eq!(
            image::open(&path).unwrap().to_rgb8().dimensions(),
            (760, 260)
        );
    }
}
