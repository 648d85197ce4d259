//! The scores physicists use (docs/spec/emulsion.md, "Metrics, exactly"): pixel Jaccard, Dice, precision
//! and recall of a predicted mask against the truth mask; grain-finding efficiency and purity with
//! one-to-one matching (closest pairs first, within R px) of predicted clusters to detectable
//! grains; centroid residuals; and the ceiling — the same object scores of the truth mask itself.

use emunet::clusters::{self, Connectivity};
use emunet::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// Pixel counts of one comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct PixelCounts {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
}

impl PixelCounts {
    pub fn compare(pred: &[u8], truth: &[u8]) -> Self {
        let mut c = PixelCounts::default();
        for (&p, &t) in pred.iter().zip(truth) {
            match (p != 0, t != 0) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, true) => c.fn_ += 1,
                _ => {}
            }
        }
        c
    }

    pub fn add(&mut self, o: PixelCounts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }

    fn ratio(a: u64, b: u64) -> f64 {
        if b == 0 { 1.0 } else { a as f64 / b as f64 }
    }
    /// |P∩T| / |P∪T| (1 when both are empty).
    pub fn jaccard(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fp + self.fn_)
    }
    pub fn dice(&self) -> f64 {
        Self::ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
    pub fn precision(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fn_)
    }
}

/// Result of matching clusters to grains.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Matching {
    pub grains: usize,
    pub clusters: usize,
    pub matched: usize,
    /// Σ (cluster − grain) over matched pairs, and Σ of squared distances.
    pub sum_dx: f64,
    pub sum_dy: f64,
    pub sum_d2: f64,
}

impl Matching {
    pub fn add(&mut self, o: Matching) {
        self.grains += o.grains;
        self.clusters += o.clusters;
        self.matched += o.matched;
        self.sum_dx += o.sum_dx;
        self.sum_dy += o.sum_dy;
        self.sum_d2 += o.sum_d2;
    }
    pub fn efficiency(&self) -> f64 {
        if self.grains == 0 {
            1.0
        } else {
            self.matched as f64 / self.grains as f64
        }
    }
    pub fn purity(&self) -> f64 {
        if self.clusters == 0 {
            1.0
        } else {
            self.matched as f64 / self.clusters as f64
        }
    }
    pub fn rms(&self) -> f64 {
        if self.matched == 0 {
            0.0
        } else {
            (self.sum_d2 / self.matched as f64).sqrt()
        }
    }
    pub fn mean_offset(&self) -> (f64, f64) {
        if self.matched == 0 {
            (0.0, 0.0)
        } else {
            (
                self.sum_dx / self.matched as f64,
                self.sum_dy / self.matched as f64,
            )
        }
    }
}

/// One-to-one matching, closest pairs first, of `clusters` to `grains` within `radius` px.
pub fn match_positions(grains: &[(f64, f64)], clusters: &[(f64, f64)], radius: f64) -> Matching {
    // Bucket clusters on a grid of cell `radius` so each grain looks at 3×3 cells.
    let cell = radius.max(1e-9);
    let key = |x: f64, y: f64| ((x / cell).floor() as i64, (y / cell).floor() as i64);
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (i, &(x, y)) in clusters.iter().enumerate() {
        grid.entry(key(x, y)).or_default().push(i);
    }
    let mut pairs = Vec::new();
    for (g, &(gx, gy)) in grains.iter().enumerate() {
        let (kx, ky) = key(gx, gy);
        for dy in -1..=1 {
            for dx in -1..=1 {
                for &c in grid.get(&(kx + dx, ky + dy)).into_iter().flatten() {
                    let (cx, cy) = clusters[c];
                    let d2 = (cx - gx).powi(2) + (cy - gy).powi(2);
                    if d2 <= radius * radius {
                        pairs.push((d2, g, c));
                    }
                }
            }
        }
    }
    let mut m = Matching {
        grains: grains.len(),
        clusters: clusters.len(),
        ..Default::default()
    };
    for (d2, g, c) in one_to_one(pairs, grains.len(), clusters.len()) {
        m.matched += 1;
        m.sum_dx += clusters[c].0 - grains[g].0;
        m.sum_dy += clusters[c].1 - grains[g].1;
        m.sum_d2 += d2;
    }
    m
}

/// One-to-one matching from candidate pairs `(cost, a, b)`: cheapest first (ties by index),
/// each a and each b used once. Returns the kept pairs in that order.
pub fn one_to_one(
    mut pairs: Vec<(f64, usize, usize)>,
    n_a: usize,
    n_b: usize,
) -> Vec<(f64, usize, usize)> {
    pairs.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let (mut used_a, mut used_b) = (vec![false; n_a], vec![false; n_b]);
    pairs.retain(|&(_, a, b)| {
        let take = !used_a[a] && !used_b[b];
        if take {
            used_a[a] = true;
            used_b[b] = true;
        }
        take
    });
    pairs
}

/// Detectable grains per frame from `grains.csv`: in focus, owning ≥ 1 truth pixel; the frame
/// size filter (centre inside the frame) is applied by the caller.
pub fn read_grains(path: &Path) -> Result<HashMap<String, Vec<(f64, f64)>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let name = path.display().to_string();
    let table = emunet::table::Table::parse(&text, &name);
    let (cf, cx, cy, ci, ct) = (
        table.column("frame")?,
        table.column("x_px")?,
        table.column("y_px")?,
        table.column("in_focus")?,
        table.column("truth_px")?,
    );
    let mut out: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    for row in table.rows() {
        let entry = out.entry(row.text(cf)?.to_string()).or_default();
        if row.num(ci)? != 0.0 && row.num(ct)? >= 1.0 {
            entry.push((row.num(cx)?, row.num(cy)?));
        }
    }
    Ok(out)
}

/// The grains whose centre lies inside a `w × h` frame (the detectable ones eval scores).
pub fn inside_frame(grains: &[(f64, f64)], w: usize, h: usize) -> Vec<(f64, f64)> {
    grains
        .iter()
        .copied()
        .filter(|&(x, y)| x >= 0.0 && y >= 0.0 && x < w as f64 && y < h as f64)
        .collect()
}

/// Positions of the clusters of a mask: centroids of its 8-connected components.
pub fn mask_centroids(mask: &[u8], w: usize, h: usize) -> Vec<(f64, f64)> {
    clusters::find_clusters(mask, w, h, Connectivity::Eight, None, (0.0, 0.0))
        .iter()
        .map(|c| (c.x, c.y))
        .collect()
}

/// Scores of one frame.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FrameScore {
    pub name: String,
    pub pixels: PixelCounts,
    pub jaccard: f64,
    pub dice: f64,
    pub precision: f64,
    pub recall: f64,
    pub clusters: usize,
    /// Object scores (with grains): the prediction and the truth mask's own ceiling.
    pub objects: Option<Matching>,
    pub ceiling: Option<Matching>,
    /// "clusters.csv (cog)" or "mask centroids".
    pub positions: String,
}

/// Scores of a whole run: per frame and pooled over all frames.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub frames: Vec<FrameScore>,
    pub pixels: PixelCounts,
    pub jaccard: f64,
    pub dice: f64,
    pub precision: f64,
    pub recall: f64,
    pub objects: Option<Matching>,
    pub ceiling: Option<Matching>,
    pub radius: f64,
    /// Frames that could not be scored, with the reason.
    pub skipped: Vec<String>,
}

fn load_mask(path: &Path) -> Result<(Vec<u8>, usize, usize)> {
    let (frame, _) = emunet::frame::Frame::load(path)?;
    let (w, h) = (frame.width, frame.height);
    let mask = (0..frame.len())
        .map(|i| (frame.value(i) != 0) as u8 * 255)
        .collect();
    Ok((mask, w, h))
}

/// Scores every truth mask `truth/<name>.png` against `pred/<name>.mask.png` (or
/// `pred/<name>.png`), with object scores when `grains` (a simulator `grains.csv`) is given.
pub fn evaluate(pred: &Path, truth: &Path, grains: Option<&Path>, radius: f64) -> Result<Report> {
    let grains = grains.map(read_grains).transpose()?;
    let mut names: Vec<String> = std::fs::read_dir(truth)
        .map_err(|e| Error::io(truth, e))?
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension().and_then(|x| x.to_str()) == Some("png"))
                .then(|| p.file_stem()?.to_str().map(String::from))
                .flatten()
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(Error::Shape(format!(
            "no truth masks (*.png) in {}",
            truth.display()
        )));
    }
    let mut frames = Vec::new();
    let mut skipped = Vec::new();
    for name in names {
        let pred_path = [
            pred.join(format!("{name}.mask.png")),
            pred.join(format!("{name}.png")),
        ]
        .into_iter()
        .find(|p| p.exists());
        let Some(pred_path) = pred_path else {
            skipped.push(format!(
                "{name}: no {name}.mask.png or {name}.png in {}",
                pred.display()
            ));
            continue;
        };
        let score = (|| -> Result<FrameScore> {
            let (t, w, h) = load_mask(&truth.join(format!("{name}.png")))?;
            let (p, pw, ph) = load_mask(&pred_path)?;
            if (pw, ph) != (w, h) {
                return Err(Error::Shape(format!(
                    "prediction is {pw}×{ph}, truth {w}×{h}"
                )));
            }
            let pixels = PixelCounts::compare(&p, &t);
            let csv = pred.join(format!("{name}.clusters.csv"));
            let (positions, how) = if csv.exists() {
                (clusters::read_csv_positions(&csv)?, "clusters.csv (cog)")
            } else {
                (mask_centroids(&p, w, h), "mask centroids")
            };
            let (objects, ceiling) = match &grains {
                Some(g) => {
                    let inside = inside_frame(g.get(&name).map_or(&[], |v| v.as_slice()), w, h);
                    (
                        Some(match_positions(&inside, &positions, radius)),
                        Some(match_positions(&inside, &mask_centroids(&t, w, h), radius)),
                    )
                }
                None => (None, None),
            };
            Ok(FrameScore {
                name: name.clone(),
                pixels,
                jaccard: pixels.jaccard(),
                dice: pixels.dice(),
                precision: pixels.precision(),
                recall: pixels.recall(),
                clusters: positions.len(),
                objects,
                ceiling,
                positions: how.into(),
            })
        })();
        match score {
            Ok(s) => frames.push(s),
            Err(e) => skipped.push(format!("{name}: {e}")),
        }
    }
    let mut pixels = PixelCounts::default();
    let (mut objects, mut ceiling) = (None::<Matching>, None::<Matching>);
    for f in &frames {
        pixels.add(f.pixels);
        if let Some(o) = f.objects {
            objects.get_or_insert_with(Matching::default).add(o);
        }
        if let Some(c) = f.ceiling {
            ceiling.get_or_insert_with(Matching::default).add(c);
        }
    }
    Ok(Report {
        frames,
        jaccard: pixels.jaccard(),
        dice: pixels.dice(),
        precision: pixels.precision(),
        recall: pixels.recall(),
        pixels,
        objects,
        ceiling,
        radius,
        skipped,
    })
}
