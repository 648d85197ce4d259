//! Grain-level scores of a view against the simulator's truth (`grains.csv` of `emunet simulate
//! --frames-per-view K`): every grain's 3D position, whether it is in focus in a plane and the
//! truth pixels it owns there.
//!
//! A truth grain is **detectable** when, in at least one plane, it is in focus (|Δz| ≤ 1.5 µm),
//! owns at least one truth pixel and its centre lies inside the frame. Matching is one to one,
//! closest pairs first (3D distance), within `radius_xy_um` across and `radius_z_um` in depth.
//! Efficiency = matched detectable grains ÷ detectable grains; purity = found grains matched to
//! any truth grain of the view ÷ found grains; residual RMS in x, y and z over matched pairs.

use crate::eval::one_to_one;
use crate::stacks::grains::Grain;
use emunet::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// One truth grain of a view.
#[derive(Clone, Debug, PartialEq)]
pub struct TruthGrain {
    pub grain: usize,
    pub x_um: f64,
    pub y_um: f64,
    pub z_um: f64,
    pub track: i32,
    pub detectable: bool,
}

/// Reads `grains.csv` into views (the frame name's part before `_z`) → grains, each grain once.
/// `size` (frame width, height in px) decides which centres lie inside the frame.
pub fn read_truth(path: &Path, size: (usize, usize)) -> Result<BTreeMap<String, Vec<TruthGrain>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let name = path.display().to_string();
    let table = emunet::table::Table::parse(&text, &name);
    let col = |c: &str| table.column(c);
    let (cf, cg, cxp, cyp, cx, cy, cz, ci, ct, cp) = (
        col("frame")?,
        col("grain")?,
        col("x_px")?,
        col("y_px")?,
        col("x_um")?,
        col("y_um")?,
        col("z_um")?,
        col("in_focus")?,
        col("track")?,
        col("truth_px")?,
    );
    let mut views: BTreeMap<String, BTreeMap<usize, TruthGrain>> = BTreeMap::new();
    for row in table.rows() {
        let frame = row.text(cf)?;
        let view = frame.split("_z").next().unwrap_or(frame).to_string();
        let (x_px, y_px) = (row.num(cxp)?, row.num(cyp)?);
        let inside = x_px >= 0.0 && y_px >= 0.0 && x_px < size.0 as f64 && y_px < size.1 as f64;
        let seen = row.num(ci)? != 0.0 && row.num(cp)? >= 1.0 && inside;
        let grain = row.num(cg)? as usize;
        let entry = match views.entry(view).or_default().entry(grain) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(TruthGrain {
                grain,
                x_um: row.num(cx)?,
                y_um: row.num(cy)?,
                z_um: row.num(cz)?,
                track: row.num(ct)? as i32,
                detectable: false,
            }),
        };
        entry.detectable |= seen;
    }
    Ok(views
        .into_iter()
        .map(|(v, g)| (v, g.into_values().collect()))
        .collect())
}

/// A found grain matches a truth grain within this distance across (µm; half an in-focus
/// grain image)…
pub const GRAIN_RADIUS_XY_UM: f64 = 0.45;
/// …and this distance in depth (µm; half a plane step).
pub const GRAIN_RADIUS_Z_UM: f64 = 1.5;

/// Grain scores, summable over views.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct GrainScores {
    pub detectable: usize,
    pub matched_detectable: usize,
    pub found: usize,
    pub found_matched: usize,
    pub sum_dx2: f64,
    pub sum_dy2: f64,
    pub sum_dz2: f64,
    pub pairs: usize,
}

impl GrainScores {
    pub fn add(&mut self, o: &GrainScores) {
        self.detectable += o.detectable;
        self.matched_detectable += o.matched_detectable;
        self.found += o.found;
        self.found_matched += o.found_matched;
        self.sum_dx2 += o.sum_dx2;
        self.sum_dy2 += o.sum_dy2;
        self.sum_dz2 += o.sum_dz2;
        self.pairs += o.pairs;
    }
    pub fn efficiency(&self) -> f64 {
        self.matched_detectable as f64 / self.detectable.max(1) as f64
    }
    pub fn purity(&self) -> f64 {
        self.found_matched as f64 / self.found.max(1) as f64
    }
    /// RMS residuals (x, y, z) in µm.
    pub fn rms(&self) -> (f64, f64, f64) {
        let n = self.pairs.max(1) as f64;
        (
            (self.sum_dx2 / n).sqrt(),
            (self.sum_dy2 / n).sqrt(),
            (self.sum_dz2 / n).sqrt(),
        )
    }
}

/// Scores one view's found grains against its truth grains.
pub fn score_grains(
    found: &[Grain],
    truth: &[TruthGrain],
    radius_xy_um: f64,
    radius_z_um: f64,
) -> GrainScores {
    // Candidate pairs within the radii, by a grid over truth x, y.
    let cell = radius_xy_um.max(0.1);
    let mut grid: BTreeMap<(i64, i64), Vec<usize>> = BTreeMap::new();
    for (t, g) in truth.iter().enumerate() {
        grid.entry((
            (g.x_um / cell).floor() as i64,
            (g.y_um / cell).floor() as i64,
        ))
        .or_default()
        .push(t);
    }
    let mut pairs = Vec::new();
    for (f, g) in found.iter().enumerate() {
        let (cx, cy) = (
            (g.x_um / cell).floor() as i64,
            (g.y_um / cell).floor() as i64,
        );
        for dx in -1..=1 {
            for dy in -1..=1 {
                for &t in grid.get(&(cx + dx, cy + dy)).into_iter().flatten() {
                    let tg = &truth[t];
                    let dxy = ((g.x_um - tg.x_um).powi(2) + (g.y_um - tg.y_um).powi(2)).sqrt();
                    let dz = (g.z_um - tg.z_um).abs();
                    if dxy <= radius_xy_um && dz <= radius_z_um {
                        // Depth is ~10× less precise than position: distance in units of each radius.
                        let d = (dxy / radius_xy_um).powi(2) + (dz / radius_z_um).powi(2);
                        pairs.push((d, f, t));
                    }
                }
            }
        }
    }
    let mut s = GrainScores {
        detectable: truth.iter().filter(|t| t.detectable).count(),
        found: found.len(),
        ..Default::default()
    };
    for (_, f, t) in one_to_one(pairs, found.len(), truth.len()) {
        s.found_matched += 1;
        let (g, tg) = (&found[f], &truth[t]);
        if tg.detectable {
            s.matched_detectable += 1;
            s.sum_dx2 += (g.x_um - tg.x_um).powi(2);
            s.sum_dy2 += (g.y_um - tg.y_um).powi(2);
            s.sum_dz2 += (g.z_um - tg.z_um).powi(2);
            s.pairs += 1;
        }
    }
    s
}

/// Track scores, summable over views.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TrackScores {
    /// Truth tracks with at least the stated number of grains in the layer, and those found.
    pub findable: usize,
    pub found_findable: usize,
    pub found: usize,
    pub fakes: usize,
    pub sum_dt2: f64,
    pub sum_dpos2: f64,
    pub pairs: usize,
}

impl TrackScores {
    pub fn add(&mut self, o: &TrackScores) {
        self.findable += o.findable;
        self.found_findable += o.found_findable;
        self.found += o.found;
        self.fakes += o.fakes;
        self.sum_dt2 += o.sum_dt2;
        self.sum_dpos2 += o.sum_dpos2;
        self.pairs += o.pairs;
    }
    pub fn efficiency(&self) -> f64 {
        self.found_findable as f64 / self.findable.max(1) as f64
    }
    /// Slope resolution per projection (mrad) and position resolution per projection (µm).
    pub fn resolution(&self) -> (f64, f64) {
        let n = (2 * self.pairs.max(1)) as f64;
        (1e3 * (self.sum_dt2 / n).sqrt(), (self.sum_dpos2 / n).sqrt())
    }
}

/// Scores a view's tracks: each truth track (grains sharing a track id) is a line fitted to its
/// grains' centres (which carry the simulated 0.25 µm jitter); found and truth tracks are matched
/// one to one, closest first, within 2 µm at the found track's reference depth and 0.05 in
/// slope. Findable: truth tracks with at least `min_grains` grains in the layer.
pub fn score_tracks(
    found: &[crate::stacks::tracks::Track],
    truth: &[TruthGrain],
    min_grains: usize,
) -> TrackScores {
    let mut by_track: BTreeMap<i32, Vec<(f64, f64, f64)>> = BTreeMap::new();
    for g in truth.iter().filter(|g| g.track >= 0) {
        by_track
            .entry(g.track)
            .or_default()
            .push((g.x_um, g.y_um, g.z_um));
    }
    let lines: Vec<(usize, (f64, f64, f64, f64))> = by_track
        .values()
        .filter_map(|pts| {
            let z0 = pts.iter().map(|p| p.2).sum::<f64>() / pts.len() as f64;
            crate::stacks::tracks::fit_line(pts, z0).map(|(x0, y0, tx, ty, _)| {
                // Stored as position at depth 0 so any reference depth can be taken.
                (pts.len(), (x0 - tx * z0, y0 - ty * z0, tx, ty))
            })
        })
        .collect();
    let mut pairs = Vec::new();
    for (f, t) in found.iter().enumerate() {
        for (k, &(_, (ax, ay, tx, ty))) in lines.iter().enumerate() {
            let (x, y) = (ax + tx * t.z0_um, ay + ty * t.z0_um);
            let dpos = ((t.x0_um - x).powi(2) + (t.y0_um - y).powi(2)).sqrt();
            let dt = ((t.tx - tx).powi(2) + (t.ty - ty).powi(2)).sqrt();
            if dpos <= 2.0 && dt <= 0.05 {
                pairs.push((dpos / 2.0 + dt / 0.05, f, k));
            }
        }
    }
    let mut s = TrackScores {
        findable: lines.iter().filter(|l| l.0 >= min_grains).count(),
        found: found.len(),
        ..Default::default()
    };
    let mut matched = 0;
    for (_, f, k) in one_to_one(pairs, found.len(), lines.len()) {
        matched += 1;
        let (t, (ax, ay, tx, ty)) = (&found[f], lines[k].1);
        let dpos = (t.x0_um - ax - tx * t.z0_um).hypot(t.y0_um - ay - ty * t.z0_um);
        let (dtx, dty) = (t.tx - tx, t.ty - ty);
        if lines[k].0 >= min_grains {
            s.found_findable += 1;
            s.sum_dt2 += dtx * dtx + dty * dty;
            s.sum_dpos2 += dpos * dpos;
            s.pairs += 1;
        }
    }
    s.fakes = found.len() - matched;
    s
}
