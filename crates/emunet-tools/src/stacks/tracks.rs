//! Microtracks: straight chains of grains through the emulsion layer, found among fog grains
//! about a hundred times denser.
//!
//! A Hough transform done as a scan over slopes: for each slope (tx, ty) on a grid of
//! [`TrackParams::slope_step`] within ±[`TrackParams::max_slope`], every grain is projected along
//! that slope to the layer's middle depth, `(x − tx·(z − z_mid), y − ty·(z − z_mid))`, and counted in
//! bins of [`TrackParams::bin_um`]; a track's grains pile up in one bin, fog spreads evenly. A 2×2
//! bin window holding at least `seed_grains` grains seeds a candidate, which is refined by a
//! least-squares line fit over the grains within `fit_um` of it (three rounds). Candidates with at
//! least `min_grains` grains over at least `min_span_um` of depth are accepted greedily, most
//! grains first, each grain in one track at most.

use crate::stacks::grains::Grain;
use rayon::prelude::*;

/// The finder's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackParams {
    /// Largest |tan θ| in x and in y.
    pub max_slope: f64,
    /// Slope grid step of the scan.
    pub slope_step: f64,
    /// Projection bin (µm).
    pub bin_um: f64,
    /// Grains a 2×2 bin window needs to seed a candidate.
    pub seed_grains: usize,
    /// Grains within this transverse distance (µm, at the grain's depth) of a line belong to it.
    pub fit_um: f64,
    /// Fewest grains of an accepted track.
    pub min_grains: usize,
    /// Smallest depth span (µm) of an accepted track's grains.
    pub min_span_um: f64,
    /// Largest chance probability of an accepted track: the Poisson probability that fog alone,
    /// at the view's own grain density, puts at least its grain count in its tube (radius
    /// `fit_um` along its path through the layer, longer for steeper tracks). 1 turns it off.
    pub max_chance: f64,
}

impl Default for TrackParams {
    /// Chosen on three nominal views (seed 913001, docs/accuracy.md). With the planes cut at 0.6: 8 grains
    /// within 0.55 µm gave no fake track; 6 within 0.8 µm found more tracks under ~1,100 fakes a
    /// view. With the stack threshold (0.05, more grains found, fog too): 8 within 0.55 µm found
    /// 29/41 under 1 fake a view; a chance probability ≤ 1e-9 (6 grains at least) 27/41 under
    /// none (3e-9: 29/41, 0.33 a view), and it lets sparser fog accept tracks of fewer grains.
    fn default() -> Self {
        TrackParams {
            max_slope: 0.6,
            slope_step: 0.02,
            bin_um: 0.6,
            seed_grains: 5,
            fit_um: 0.55,
            min_grains: 6,
            min_span_um: 15.0,
            max_chance: 1e-9,
        }
    }
}

/// A fitted microtrack: x = x0 + tx·(z − z0), y = y0 + ty·(z − z0), z0 the layer's middle depth
/// of the view's grains.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Track {
    pub track: usize,
    pub x0_um: f64,
    pub y0_um: f64,
    pub z0_um: f64,
    pub tx: f64,
    pub ty: f64,
    /// Σ of squared transverse residuals ÷ (2n − 4), in µm².
    pub chi2: f64,
    /// The probability that fog alone puts as many grains in its tube
    /// ([`TrackParams::max_chance`]): how sure the track is; a tighter cut than the finder's
    /// is a filter on this column.
    pub chance: f64,
    pub grains: Vec<usize>,
}

/// `tracks.csv`'s header; `grains` lists the grain ids joined by `;`.
pub const TRACKS_HEADER: &str = "view,track,x0_um,y0_um,z0_um,tx,ty,chi2,n_grains,chance,grains";

pub fn tracks_csv(view: &str, tracks: &[Track]) -> String {
    let mut out = format!("{TRACKS_HEADER}\n");
    for t in tracks {
        let ids: Vec<String> = t.grains.iter().map(|g| g.to_string()).collect();
        out.push_str(&format!(
            "{view},{},{:.4},{:.4},{:.4},{:.5},{:.5},{:.5},{},{:.3e},{}\n",
            t.track,
            t.x0_um,
            t.y0_um,
            t.z0_um,
            t.tx,
            t.ty,
            t.chi2,
            t.grains.len(),
            t.chance,
            ids.join(";")
        ));
    }
    out
}

/// Reads a `tracks.csv` of [`tracks_csv`]: (view, tracks); grain ids as written.
pub fn read_tracks_csv(text: &str, name: &str) -> emunet::Result<(String, Vec<Track>)> {
    let table = emunet::table::Table::parse(text, name);
    let col = |c: &str| table.column(c);
    let (cv, ct, cx, cy, cz, ctx, cty, cc, cp, cg) = (
        col("view")?,
        col("track")?,
        col("x0_um")?,
        col("y0_um")?,
        col("z0_um")?,
        col("tx")?,
        col("ty")?,
        col("chi2")?,
        col("chance")?,
        col("grains")?,
    );
    let mut view = String::new();
    let mut out = Vec::new();
    for row in table.rows() {
        view = row.text(cv)?.to_string();
        let ids = row.text(cg)?;
        let grains = ids
            .split(';')
            .filter(|g| !g.is_empty())
            .map(|g| {
                g.parse::<usize>().map_err(|_| {
                    emunet::Error::Shape(format!("{name}: grain id {g:?} is not a number"))
                })
            })
            .collect::<emunet::Result<Vec<usize>>>()?;
        out.push(Track {
            track: row.num(ct)? as usize,
            x0_um: row.num(cx)?,
            y0_um: row.num(cy)?,
            z0_um: row.num(cz)?,
            tx: row.num(ctx)?,
            ty: row.num(cty)?,
            chi2: row.num(cc)?,
            chance: row.num(cp)?,
            grains,
        });
    }
    Ok((view, out))
}

/// Least-squares line through `(x, y, z)` points: (x0, y0, tx, ty) at depth `z0`, and the χ²
/// per degree of freedom (µm²). None with fewer than 3 points or no depth spread.
pub fn fit_line(points: &[(f64, f64, f64)], z0: f64) -> Option<(f64, f64, f64, f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let mz = points.iter().map(|p| p.2 - z0).sum::<f64>() / n;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let szz: f64 = points.iter().map(|p| (p.2 - z0 - mz).powi(2)).sum();
    if szz < 1e-9 {
        return None;
    }
    let tx = points
        .iter()
        .map(|p| (p.2 - z0 - mz) * (p.0 - mx))
        .sum::<f64>()
        / szz;
    let ty = points
        .iter()
        .map(|p| (p.2 - z0 - mz) * (p.1 - my))
        .sum::<f64>()
        / szz;
    let (x0, y0) = (mx - tx * mz, my - ty * mz);
    let ss: f64 = points
        .iter()
        .map(|p| {
            let dz = p.2 - z0;
            (p.0 - x0 - tx * dz).powi(2) + (p.1 - y0 - ty * dz).powi(2)
        })
        .sum();
    let ndf = (2.0 * n - 4.0).max(1.0);
    Some((x0, y0, tx, ty, ss / ndf))
}

/// P(N ≥ n) for N ~ Poisson(λ), summed from the tail's first term (accurate where it is tiny).
pub fn poisson_tail(n: usize, lambda: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let ln_lambda = lambda.ln();
    let mut ln_term = -lambda + (1..=n).map(|k| ln_lambda - (k as f64).ln()).sum::<f64>();
    let mut sum = 0.0;
    for k in n..n + 200 {
        sum += ln_term.exp();
        ln_term += ln_lambda - ((k + 1) as f64).ln();
        if ln_term < sum.ln() - 40.0 {
            break;
        }
    }
    sum.min(1.0)
}

/// Finds the microtracks among a view's grains.
pub fn find_tracks(grains: &[Grain], p: &TrackParams) -> Vec<Track> {
    if grains.len() < p.min_grains.max(3) {
        return Vec::new();
    }
    let (mut xmin, mut xmax, mut ymin, mut ymax, mut zmin, mut zmax) =
        (f64::MAX, f64::MIN, f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for g in grains {
        xmin = xmin.min(g.x_um);
        xmax = xmax.max(g.x_um);
        ymin = ymin.min(g.y_um);
        ymax = ymax.max(g.y_um);
        zmin = zmin.min(g.z_um);
        zmax = zmax.max(g.z_um);
    }
    let z0 = 0.5 * (zmin + zmax);
    // Fog grains expected in a track's tube: the view's grain density × tube cross-section ×
    // path length through the layer.
    let volume = ((xmax - xmin) * (ymax - ymin) * (zmax - zmin)).max(f64::MIN_POSITIVE);
    let density = grains.len() as f64 / volume;
    let chance = |n: usize, tx: f64, ty: f64| -> f64 {
        let path = (zmax - zmin) * (1.0 + tx * tx + ty * ty).sqrt();
        poisson_tail(
            n,
            density * std::f64::consts::PI * p.fit_um * p.fit_um * path,
        )
    };
    let reach = p.max_slope * 0.5 * (zmax - zmin) + p.bin_um;
    let (ox, oy) = (xmin - reach, ymin - reach);
    let nx = ((xmax + reach - ox) / p.bin_um).ceil() as usize + 2;
    let ny = ((ymax + reach - oy) / p.bin_um).ceil() as usize + 2;
    // A grid of grains over (x, y) for gathering those near a line.
    let cell = 2.0;
    let gx = ((xmax - xmin) / cell).ceil() as usize + 1;
    let gy = ((ymax - ymin) / cell).ceil() as usize + 1;
    let mut by_cell = vec![Vec::new(); gx * gy];
    for (i, g) in grains.iter().enumerate() {
        let (c, r) = (
            ((g.x_um - xmin) / cell) as usize,
            ((g.y_um - ymin) / cell) as usize,
        );
        by_cell[r.min(gy - 1) * gx + c.min(gx - 1)].push(i);
    }
    // The grains within `tol` of the line (x0, y0, tx, ty) at depth z0.
    let near_line = |line: (f64, f64, f64, f64), tol: f64| -> Vec<usize> {
        let (x0, y0, tx, ty) = line;
        let mut out = Vec::new();
        let (za, zb) = (zmin - z0, zmax - z0);
        let xs = [x0 + tx * za, x0 + tx * zb];
        let ys = [y0 + ty * za, y0 + ty * zb];
        let c0 = (((xs[0].min(xs[1]) - tol - xmin) / cell).floor().max(0.0)) as usize;
        let c1 = ((((xs[0].max(xs[1]) + tol - xmin) / cell).floor().max(0.0)) as usize).min(gx - 1);
        let r0 = (((ys[0].min(ys[1]) - tol - ymin) / cell).floor().max(0.0)) as usize;
        let r1 = ((((ys[0].max(ys[1]) + tol - ymin) / cell).floor().max(0.0)) as usize).min(gy - 1);
        for r in r0..=r1 {
            for c in c0..=c1 {
                for &i in &by_cell[r * gx + c] {
                    let g = &grains[i];
                    let dz = g.z_um - z0;
                    let d2 = (g.x_um - x0 - tx * dz).powi(2) + (g.y_um - y0 - ty * dz).powi(2);
                    if d2 <= tol * tol {
                        out.push(i);
                    }
                }
            }
        }
        out
    };
    let steps = (p.max_slope / p.slope_step).round() as i64;
    // The slope scan, one row of slopes (ty) per task on every core; seeds in scan order.
    let seed_row = |sy: i64| -> Vec<Track> {
        let mut counts = vec![0u16; nx * ny];
        let mut bins = vec![0usize; grains.len()];
        let mut candidates: Vec<Track> = Vec::new();
        let ty = sy as f64 * p.slope_step;
        for sx in -steps..=steps {
            let tx = sx as f64 * p.slope_step;
            for (i, g) in grains.iter().enumerate() {
                let dz = g.z_um - z0;
                let bx = ((g.x_um - tx * dz - ox) / p.bin_um) as usize;
                let by = ((g.y_um - ty * dz - oy) / p.bin_um) as usize;
                let b = by.min(ny - 2) * nx + bx.min(nx - 2);
                bins[i] = b;
                counts[b] += 1;
            }
            // A 2×2 window with its top-left at each grain's bin or one to the left/up.
            for &b in &bins {
                if counts[b] == 0 {
                    continue;
                }
                for start in [
                    b,
                    b.saturating_sub(1),
                    b.saturating_sub(nx),
                    b.saturating_sub(nx + 1),
                ] {
                    let sum = counts[start]
                        + counts[start + 1]
                        + counts[start + nx]
                        + counts[start + nx + 1];
                    if sum as usize >= p.seed_grains {
                        let (cx, cy) = (
                            ox + ((start % nx) as f64 + 1.0) * p.bin_um,
                            oy + ((start / nx) as f64 + 1.0) * p.bin_um,
                        );
                        candidates.push(Track {
                            track: 0,
                            x0_um: cx,
                            y0_um: cy,
                            z0_um: z0,
                            tx,
                            ty,
                            chi2: 0.0,
                            chance: 1.0,
                            grains: Vec::new(),
                        });
                        // One seed per window: clear it so no other grain seeds it again.
                        counts[start] = 0;
                        counts[start + 1] = 0;
                        counts[start + nx] = 0;
                        counts[start + nx + 1] = 0;
                        break;
                    }
                }
            }
            for &b in &bins {
                counts[b] = 0;
            }
        }
        candidates
    };
    let candidates: Vec<Track> = (-steps..=steps)
        .into_par_iter()
        .flat_map_iter(seed_row)
        .collect();
    // Refine every seed: gather, fit, gather again (three rounds); in parallel, in seed order.
    let refine = |seed: &Track| -> Option<Track> {
        let mut line = (seed.x0_um, seed.y0_um, seed.tx, seed.ty);
        let mut tol = p.fit_um + p.bin_um;
        let mut chi2 = f64::NAN;
        for _ in 0..3 {
            let pts: Vec<(f64, f64, f64)> = near_line(line, tol)
                .iter()
                .map(|&i| (grains[i].x_um, grains[i].y_um, grains[i].z_um))
                .collect();
            let Some((x0, y0, tx, ty, c)) = fit_line(&pts, z0) else {
                break;
            };
            line = (x0, y0, tx, ty);
            chi2 = c;
            tol = p.fit_um;
        }
        if chi2.is_nan() {
            return None;
        }
        let members = near_line(line, p.fit_um);
        let chance_of = chance(members.len(), line.2, line.3);
        if members.len() < p.min_grains
            || chance_of > p.max_chance
            || line.2.abs() > p.max_slope + p.slope_step
            || line.3.abs() > p.max_slope + p.slope_step
        {
            return None;
        }
        Some(Track {
            track: 0,
            x0_um: line.0,
            y0_um: line.1,
            z0_um: z0,
            tx: line.2,
            ty: line.3,
            chi2,
            chance: chance_of,
            grains: members,
        })
    };
    let mut refined: Vec<Track> = candidates.par_iter().filter_map(refine).collect();
    // Most grains first, then the best fit; each grain in one track.
    refined.sort_by(|a, b| {
        b.grains
            .len()
            .cmp(&a.grains.len())
            .then(a.chi2.total_cmp(&b.chi2))
            .then(a.x0_um.total_cmp(&b.x0_um))
            .then(a.y0_um.total_cmp(&b.y0_um))
    });
    let mut used = vec![false; grains.len()];
    let mut tracks: Vec<Track> = Vec::new();
    for mut t in refined {
        t.grains.retain(|&i| !used[i]);
        if t.grains.len() < p.min_grains {
            continue;
        }
        let pts: Vec<(f64, f64, f64)> = t
            .grains
            .iter()
            .map(|&i| (grains[i].x_um, grains[i].y_um, grains[i].z_um))
            .collect();
        let span = pts.iter().map(|q| q.2).fold(f64::MIN, f64::max)
            - pts.iter().map(|q| q.2).fold(f64::MAX, f64::min);
        if span < p.min_span_um {
            continue;
        }
        let Some((x0, y0, tx, ty, chi2)) = fit_line(&pts, z0) else {
            continue;
        };
        let chance_of = chance(pts.len(), tx, ty);
        if chance_of > p.max_chance {
            continue;
        }
        for &i in &t.grains {
            used[i] = true;
        }
        t.grains.sort_unstable();
        t.grains = t.grains.iter().map(|&i| grains[i].grain).collect();
        tracks.push(Track {
            track: tracks.len(),
            x0_um: x0,
            y0_um: y0,
            z0_um: z0,
            tx,
            ty,
            chi2,
            chance: chance_of,
            grains: t.grains,
        });
    }
    tracks
}
