//! Cluster lists from a mask: connected components (8-connected by default, 4 optional) numbered
//! in raster order (by the first pixel met scanning rows top to bottom, left to right), and per
//! cluster its area, bounding box, centroid, centre of gravity and volume under a weight image,
//! peak, and central second moments (design.md §7). Coordinates follow emulsion.md: pixel
//! (i, j) has its centre at (i + 0.5, j + 0.5); a pipeline shift (the classical 6×6 filter's
//! −0.5 px) is added to every position but not to the bounding box, which is in pixel indices.

use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// Which neighbours join a cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Connectivity {
    /// Edge neighbours only (FEDRA's flood fill).
    Four,
    /// Edge and corner neighbours (the SySal GPU code; the default).
    #[default]
    Eight,
}

crate::choice!(Connectivity {
    Four => "four",
    Eight => "eight",
});

/// One cluster: the row of the clusters CSV.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Cluster {
    /// Number of the cluster in its list, from 0 (raster order of first pixels when measured).
    pub id: usize,
    /// Centroid: mean of the pixel centres, plus the pipeline shift.
    pub x: f64,
    /// Centroid y (px, down), as `x`.
    pub y: f64,
    /// Number of pixels.
    pub area: usize,
    /// Σ weight over the cluster's pixels.
    pub volume: f64,
    /// Weighted centre of gravity (the centroid when the weights sum to zero), plus the shift.
    pub cog_x: f64,
    /// Centre of gravity y (px, down), as `cog_x`.
    pub cog_y: f64,
    /// Largest weight and the centre of its pixel (first in raster order on ties), plus the shift.
    pub peak: f64,
    /// x of the peak pixel's centre (px), plus the shift.
    pub peak_x: f64,
    /// y of the peak pixel's centre (px, down), plus the shift.
    pub peak_y: f64,
    /// Bounding box in pixel indices: x0, y0 inclusive, x1, y1 exclusive.
    pub x0: usize,
    /// First row of the bounding box (inclusive).
    pub y0: usize,
    /// One past the last column of the bounding box (exclusive).
    pub x1: usize,
    /// One past the last row of the bounding box (exclusive).
    pub y1: usize,
    /// Central second moments of the pixel centres (px²).
    pub mxx: f64,
    /// Central second moment in x·y of the pixel centres (px²; may be negative).
    pub mxy: f64,
    /// Central second moment in y of the pixel centres (px²).
    pub myy: f64,
}

/// The clusters CSV header (a contract: design.md §7).
pub const CSV_HEADER: &str =
    "id,x,y,area,volume,cog_x,cog_y,peak,peak_x,peak_y,x0,y0,x1,y1,mxx,mxy,myy";

/// Union-find root of `a`, halving the path on the way.
pub(crate) fn find(parent: &mut [u32], mut a: u32) -> u32 {
    while parent[a as usize] != a {
        parent[a as usize] = parent[parent[a as usize] as usize];
        a = parent[a as usize];
    }
    a
}

/// Labels the connected components of `mask` (non-zero = on), `width × height` row-major.
/// Returns per-pixel labels (0 = background, k = cluster k − 1) and the number of clusters;
/// labels follow raster order of each cluster's first pixel.
pub fn label(
    mask: &[u8],
    width: usize,
    height: usize,
    connectivity: Connectivity,
) -> (Vec<u32>, usize) {
    assert_eq!(mask.len(), width * height, "mask size");
    let mut labels = vec![0u32; mask.len()];
    let mut parent: Vec<u32> = vec![0]; // provisional label 0 is the background
    let union = |parent: &mut Vec<u32>, a: u32, b: u32| {
        let (ra, rb) = (find(parent, a), find(parent, b));
        // Keep the smaller (earlier) label as root so roots follow raster order.
        if ra < rb {
            parent[rb as usize] = ra;
        } else if rb < ra {
            parent[ra as usize] = rb;
        }
    };
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            if mask[i] == 0 {
                continue;
            }
            let mut neighbours = [0u32; 4];
            let mut n = 0;
            if x > 0 && labels[i - 1] != 0 {
                neighbours[n] = labels[i - 1];
                n += 1;
            }
            if y > 0 {
                let up = i - width;
                if labels[up] != 0 {
                    neighbours[n] = labels[up];
                    n += 1;
                }
                if connectivity == Connectivity::Eight {
                    if x > 0 && labels[up - 1] != 0 {
                        neighbours[n] = labels[up - 1];
                        n += 1;
                    }
                    if x + 1 < width && labels[up + 1] != 0 {
                        neighbours[n] = labels[up + 1];
                        n += 1;
                    }
                }
            }
            if n == 0 {
                let l = parent.len() as u32;
                parent.push(l);
                labels[i] = l;
            } else {
                let first = neighbours[0];
                labels[i] = first;
                for &other in &neighbours[1..n] {
                    union(&mut parent, first, other);
                }
            }
        }
    }
    // Resolve roots, then number clusters by the raster order of their first pixel.
    let groups = parent.len();
    let order = number_in_raster_order(&mut labels, groups, |l| find(&mut parent, l));
    (labels, order.len())
}

/// Numbers the groups of `labels` 1, 2, … in raster order of each group's first pixel, in place:
/// a non-zero label `l` belongs to group `group(l)` (< `groups`, e.g. a union-find root), 0 stays
/// background. Returns, for each new number k, its group at index k − 1.
pub(crate) fn number_in_raster_order(
    labels: &mut [u32],
    groups: usize,
    mut group: impl FnMut(u32) -> u32,
) -> Vec<u32> {
    let mut id = vec![0u32; groups];
    let mut order = Vec::new();
    for l in labels.iter_mut() {
        if *l == 0 {
            continue;
        }
        let g = group(*l) as usize;
        if id[g] == 0 {
            order.push(g as u32);
            id[g] = order.len() as u32;
        }
        *l = id[g];
    }
    order
}

/// Scale of the fixed-point weights: a weight w is summed as W = ⌊w · 2^16⌋ ([`fixed_weight`]).
pub const WEIGHT_UNIT: f64 = 65536.0;

/// A weight in units of 2^-16, truncated: 0 for w ≤ 0 (and NaN), `u32::MAX` from 65536 up.
/// Summing these integers is exact in any order, which lets the GPU's atomics
/// (`shaders/cluster_moments.wgsl`) reproduce the CPU's sums bit for bit; the truncation moves a
/// cluster's volume by less than 2^-16 per pixel.
pub fn fixed_weight(w: f32) -> u32 {
    let s = w * 65536.0;
    if s.is_nan() || s <= 0.0 {
        0
    } else if s >= 4294967040.0 {
        u32::MAX
    } else {
        s as u32
    }
}

/// An order-preserving key of an f32: a larger value has a larger key (the GPU's peak search).
pub fn peak_key(w: f32) -> u32 {
    let b = w.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The exact integer sums of one cluster, from which [`Moments::cluster`] computes every field:
/// what [`measure`] accumulates on the CPU and `shaders/cluster_moments.wgsl` on the GPU.
/// Coordinates are pixel indices (x, y); W is [`fixed_weight`] of the pixel's weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moments {
    /// Number of pixels.
    pub area: u64,
    /// Σ x over the pixels.
    pub sx: u64,
    /// Σ y over the pixels.
    pub sy: u64,
    /// Σ x² over the pixels.
    pub sxx: u64,
    /// Σ x·y over the pixels.
    pub sxy: u64,
    /// Σ y² over the pixels.
    pub syy: u64,
    /// Σ W.
    pub sw: u64,
    /// Σ W·x, Σ W·y.
    pub swx: u128,
    /// Σ W·y (see `swx`).
    pub swy: u128,
    /// The largest weight and the index of its first pixel in raster order.
    pub peak: f32,
    /// Row-major index (y · width + x) of the peak's pixel; `usize::MAX` while empty.
    pub peak_index: usize,
    /// Bounding box: x0, y0 inclusive, x1, y1 exclusive.
    pub x0: usize,
    /// First row of the bounding box (inclusive).
    pub y0: usize,
    /// One past the last column of the bounding box.
    pub x1: usize,
    /// One past the last row of the bounding box.
    pub y1: usize,
}

impl Default for Moments {
    fn default() -> Self {
        Moments {
            area: 0,
            sx: 0,
            sy: 0,
            sxx: 0,
            sxy: 0,
            syy: 0,
            sw: 0,
            swx: 0,
            swy: 0,
            peak: f32::NEG_INFINITY,
            peak_index: usize::MAX,
            x0: usize::MAX,
            y0: usize::MAX,
            x1: 0,
            y1: 0,
        }
    }
}

impl Moments {
    /// Adds pixel `index` = (x, y) with weight `w`; pixels must come in raster order for the
    /// peak's tie rule (the first of equal weights wins).
    pub fn add(&mut self, index: usize, x: usize, y: usize, w: f32) {
        // Weights count from 0 up (NaN as 0), as on the GPU.
        let w = if w > 0.0 { w } else { 0.0 };
        let (xu, yu) = (x as u64, y as u64);
        let fw = fixed_weight(w) as u128;
        self.area += 1;
        self.sx += xu;
        self.sy += yu;
        self.sxx += xu * xu;
        self.sxy += xu * yu;
        self.syy += yu * yu;
        self.sw += fw as u64;
        self.swx += fw * x as u128;
        self.swy += fw * y as u128;
        if self.peak_index == usize::MAX || peak_key(w) > peak_key(self.peak) {
            self.peak = w;
            self.peak_index = index;
        }
        self.x0 = self.x0.min(x);
        self.y0 = self.y0.min(y);
        self.x1 = self.x1.max(x + 1);
        self.y1 = self.y1.max(y + 1);
    }

    /// The cluster these sums describe, with pixel centres at (x + 0.5, y + 0.5) and `shift`
    /// added to every position.
    pub fn cluster(&self, id: usize, width: usize, shift: (f64, f64)) -> Cluster {
        let n = self.area as f64;
        // Sums over pixel centres, exact in f64: Σ(x + ½) = Σx + n/2, Σ(x + ½)² = Σx² + Σx + n/4.
        let (cx, cy) = (self.sx as f64 + 0.5 * n, self.sy as f64 + 0.5 * n);
        let (mx, my) = (cx / n, cy / n);
        let quarter = |s: u64, a: u64, b: u64| (4 * s + 2 * a + 2 * b + self.area) as f64 / 4.0;
        let cxx = quarter(self.sxx, self.sx, self.sx);
        let cxy = quarter(self.sxy, self.sx, self.sy);
        let cyy = quarter(self.syy, self.sy, self.sy);
        // Σ W·(x + ½) = (2 Σ W·x + Σ W) / 2, so the centre of gravity is a ratio of integers.
        let (gx, gy) = if self.sw > 0 {
            let sw2 = 2.0 * self.sw as f64;
            (
                (2 * self.swx + self.sw as u128) as f64 / sw2,
                (2 * self.swy + self.sw as u128) as f64 / sw2,
            )
        } else {
            (mx, my)
        };
        let (px, py) = (self.peak_index % width, self.peak_index / width);
        Cluster {
            id,
            x: mx + shift.0,
            y: my + shift.1,
            area: self.area as usize,
            volume: self.sw as f64 / WEIGHT_UNIT,
            cog_x: gx + shift.0,
            cog_y: gy + shift.1,
            peak: self.peak as f64,
            peak_x: px as f64 + 0.5 + shift.0,
            peak_y: py as f64 + 0.5 + shift.1,
            x0: self.x0,
            y0: self.y0,
            x1: self.x1,
            y1: self.y1,
            mxx: (cxx / n - mx * mx).max(0.0),
            mxy: cxy / n - mx * my,
            myy: (cyy / n - my * my).max(0.0),
        }
    }
}

/// The exact sums of each cluster of a labelling under `weight` (same size; `None` weighs every
/// pixel 1).
pub fn moments(labels: &[u32], count: usize, width: usize, weight: Option<&[f32]>) -> Vec<Moments> {
    let mut acc = vec![Moments::default(); count];
    for (i, &l) in labels.iter().enumerate() {
        if l != 0 {
            let w = weight.map_or(1.0, |w| w[i]);
            acc[l as usize - 1].add(i, i % width, i / width, w);
        }
    }
    acc
}

/// Measures the clusters of a labelling under `weight` (same size; `None` weighs every pixel 1),
/// adding `shift` (x, y) to every position. Weights count from 0 up (a negative one counts as 0,
/// also for the peak) in units of 2^-16 ([`fixed_weight`]); the sums are exact, so the
/// GPU's ([`crate::clusters_gpu`]) are the same.
pub fn measure(
    labels: &[u32],
    count: usize,
    width: usize,
    weight: Option<&[f32]>,
    shift: (f64, f64),
) -> Vec<Cluster> {
    moments(labels, count, width, weight)
        .iter()
        .enumerate()
        .map(|(id, m)| m.cluster(id, width, shift))
        .collect()
}

/// Labels and measures in one call.
pub fn find_clusters(
    mask: &[u8],
    width: usize,
    height: usize,
    connectivity: Connectivity,
    weight: Option<&[f32]>,
    shift: (f64, f64),
) -> Vec<Cluster> {
    let (labels, count) = label(mask, width, height, connectivity);
    measure(&labels, count, width, weight, shift)
}

/// Keeps clusters whose area lies in `min..=max` and renumbers them from 0 in order.
pub fn filter_area(clusters: Vec<Cluster>, min: usize, max: usize) -> Vec<Cluster> {
    clusters
        .into_iter()
        .filter(|c| (min..=max).contains(&c.area))
        .enumerate()
        .map(|(id, c)| Cluster { id, ..c })
        .collect()
}

/// The clusters CSV (header, then one row per cluster).
pub fn to_csv(clusters: &[Cluster]) -> String {
    let mut out = String::with_capacity(64 * (clusters.len() + 1));
    out.push_str(CSV_HEADER);
    out.push('\n');
    for c in clusters {
        let _ = writeln!(
            out,
            "{},{:.4},{:.4},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{},{},{},{:.4},{:.4},{:.4}",
            c.id,
            c.x,
            c.y,
            c.area,
            c.volume,
            c.cog_x,
            c.cog_y,
            c.peak,
            c.peak_x,
            c.peak_y,
            c.x0,
            c.y0,
            c.x1,
            c.y1,
            c.mxx,
            c.mxy,
            c.myy
        );
    }
    out
}

/// The clusters as a JSON array of objects with the CSV's fields.
pub fn to_json(clusters: &[Cluster]) -> String {
    serde_json::to_string_pretty(clusters).expect("clusters serialise")
}

/// Writes the clusters CSV atomically.
pub fn write_csv(path: &Path, clusters: &[Cluster]) -> Result<()> {
    crate::model::write_atomic(path, to_csv(clusters).as_bytes())
}

/// Writes the clusters JSON atomically.
pub fn write_json(path: &Path, clusters: &[Cluster]) -> Result<()> {
    crate::model::write_atomic(path, to_json(clusters).as_bytes())
}

/// Reads the positions of a clusters CSV: (cog_x, cog_y) of each row.
pub fn read_csv_positions(path: &Path) -> Result<Vec<(f64, f64)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    csv_positions(&text, &path.display().to_string())
}

/// The positions (cog_x, cog_y) of each row of a clusters CSV's text; `name` (a path) starts
/// every error message.
pub fn csv_positions(text: &str, name: &str) -> Result<Vec<(f64, f64)>> {
    let table = crate::table::Table::parse(text, name);
    let (cx, cy) = (table.column("cog_x")?, table.column("cog_y")?);
    table.rows().map(|r| Ok((r.num(cx)?, r.num(cy)?))).collect()
}
