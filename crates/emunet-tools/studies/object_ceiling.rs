//! The object-level ceiling of the truth itself: how well can *any* detector find the detectable
//! grains (in focus, |Δz| ≤ 1.5 µm, and owning a pixel of ≥ 20 grey levels of own darkening) when
//! it only sees the frame? Both cuts are cliffs in quantities the image shows only through noise:
//! a grain 0.05 µm beyond the depth cut, or 1 grey level under the darkness cut, looks like one
//! just inside. This example measures how much that alone costs, for an observer far better
//! than any real one:
//! - every grain is isolated (no neighbours, no fog haze, dust, scratches or column pattern);
//! - the observer knows the view's optics, the grain's sub-pixel position, the local clean
//!   background and the whole population of grains of the preset (its prior);
//! - it measures the grain's peak darkening and width as well as physics allows: Gaussian errors
//!   with the Cramér–Rao covariance of a Gaussian spot (peak, width, centre, background unknown)
//!   sampled on the pixel grid in the camera's temporal noise (in linear light: the gamma undone;
//!   u8 rounding and shot noise included);
//! - it decides with the exact Bayes posterior P(detectable | measurement) under that prior
//!   (a kernel sum over every other grain of the sample, leaving the grain itself out).
//!
//! Thresholding the posterior traces the best efficiency–purity curve there is; any real method
//! (which also meets neighbours, haze, dust, column patterns and unknown optics) lies below it.
//! Frames are rendered only for the exact truth (`truth_px`).
//!
//! cargo run --release --example object_ceiling -- PRESET [VIEWS [SEED]]

use emunet_tools::simulate::{Preset, SimParams, View, focal_planes};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One grain as the observer sees it.
struct Sample {
    /// True (peak darkening at the best-sampled pixel, width in px).
    mean: [f64; 2],
    /// Measurement covariance of `mean`.
    cov: [f64; 3],
    /// One noisy measurement.
    seen: [f64; 2],
    detectable: bool,
    /// View index (for the per-view observer of `mixed`).
    view: usize,
    /// Detectable grains: the Cramér–Rao variance of the centre (x + y, px²) alone and among
    /// its neighbours (every grain within 3 µm of focus whose spot reaches the window, all of
    /// their parameters unknown).
    position_var: Option<(f64, f64)>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let preset = match args.first().map(String::as_str) {
        Some("easy") => Preset::Easy,
        Some("hard") => Preset::Hard,
        Some("mixed") => Preset::Mixed,
        Some("nominal") | None => Preset::Nominal,
        Some(other) => {
            eprintln!("usage: object_ceiling [easy|nominal|hard|mixed] [VIEWS [SEED]] ({other}?)");
            std::process::exit(2)
        }
    };
    let views: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(61001);
    let samples = grains_seen(preset, views, seed);
    let detectable = samples.iter().filter(|s| s.detectable).count();
    println!(
        "{preset:?}: {views} view(s) of seed {seed}, {} grains within 3 µm of focus, {detectable} detectable",
        samples.len()
    );
    positions(&samples);
    let own = posteriors(&samples, None, false);
    report(
        "the prior of the preset (its optics known)",
        &samples,
        &own,
        detectable,
    );
    if preset == Preset::Mixed {
        let per_view = posteriors(&samples, None, true);
        report(
            "each view's own prior (every view's optics known)",
            &samples,
            &per_view,
            detectable,
        );
    } else {
        // A rule for frames of unknown optics: the prior of `mixed` (other seed, same count of
        // grains' worth of views), applied to this preset's grains.
        let prior = grains_seen(Preset::Mixed, views, seed + 1);
        let mixed = posteriors(&samples, Some(&prior), false);
        report(
            "the prior of `mixed` (optics unknown)",
            &samples,
            &mixed,
            detectable,
        );
    }
}

/// Every grain within 3 µm of the focal plane, centre inside the frame, of `views` views of
/// `preset` (one focal plane each), with one measurement each.
fn grains_seen(preset: Preset, views: usize, seed: u64) -> Vec<Sample> {
    let base = SimParams::preset(preset);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0b5e_47e4);
    let mut samples = Vec::new();
    for v in 0..views {
        let mut view = View::new(&base, seed, v as u64).unwrap();
        let p = view.params().clone();
        let z = focal_planes(&p, seed, v as u64, 1)[0];
        let frame = view.render(String::new(), z);
        let clean = view.clean_background();
        let (w, h) = (p.width, p.height);
        // Every grain's spot [peak, width, x, y] and a grid of 8-px cells to find neighbours.
        let spots: Vec<[f64; 4]> = frame
            .grains
            .iter()
            .map(|g| {
                let (a, s) = view.grains[g.grain].spot(&p, g.dz_um);
                let (x, y) = (
                    g.x_px.clamp(0.0, w as f64 - 1.0),
                    g.y_px.clamp(0.0, h as f64 - 1.0),
                );
                [a * clean[y as usize * w + x as usize], s, g.x_px, g.y_px]
            })
            .collect();
        let cell = |x: f64, y: f64| ((x / 8.0).floor() as i64, (y / 8.0).floor() as i64);
        let mut grid: std::collections::HashMap<(i64, i64), Vec<usize>> = Default::default();
        for (k, sp) in spots.iter().enumerate() {
            grid.entry(cell(sp[2], sp[3])).or_default().push(k);
        }
        for (k, g) in frame.grains.iter().enumerate() {
            if !(g.x_px >= 0.0 && g.y_px >= 0.0 && g.x_px < w as f64 && g.y_px < h as f64) {
                continue;
            }
            let [peak, s, ..] = spots[k];
            let b = clean[g.y_px as usize * w + g.x_px as usize];
            // Temporal noise in linear light at the background: the camera's response
            // 255·(L/255)^(1/γ) has slope (1/γ)·(L/255)^(1/γ − 1) there.
            let response = 255.0 * (b / 255.0).powf(1.0 / p.gamma);
            let slope = (b / 255.0).powf(1.0 / p.gamma - 1.0) / p.gamma;
            let var_out = p.noise_sigma.powi(2) + p.shot_noise * response + 1.0 / 12.0;
            let sigma = var_out.sqrt() / slope;
            // The best-sampled pixel: the pixel centre nearest the grain's centre.
            let (fx, fy) = (g.x_px.fract() - 0.5, g.y_px.fract() - 0.5);
            let gmax = (-(fx * fx + fy * fy) / (2.0 * s * s)).exp();
            let [cpp, cps, css] = crlb(peak, s, (fx, fy), sigma);
            let cov = [gmax * gmax * cpp, gmax * cps, css];
            let mean = [peak * gmax, s];
            // One measurement: mean + L·(n1, n2) with L the Cholesky factor of cov.
            let l11 = cov[0].sqrt();
            let l21 = cov[1] / l11;
            let l22 = (cov[2] - l21 * l21).max(0.0).sqrt();
            let (n1, n2) = (normal(&mut rng), normal(&mut rng));
            let seen = [mean[0] + l11 * n1, mean[1] + l21 * n1 + l22 * n2];
            let detectable = g.in_focus && g.truth_px >= 1;
            let position_var = detectable.then(|| {
                let origin = (g.x_px.floor() + 0.5, g.y_px.floor() + 0.5);
                let var = |inv: &[Vec<f64>]| inv[2][2] + inv[3][3];
                let alone = var(&spots_crlb(&[spots[k]], origin, sigma));
                let reach = 4.0 * s + 3.0;
                let mut group = vec![spots[k]];
                let (cx, cy) = cell(g.x_px, g.y_px);
                for dy in -2..=2 {
                    for dx in -2..=2 {
                        for &j in grid.get(&(cx + dx, cy + dy)).into_iter().flatten() {
                            let o = spots[j];
                            let d = ((o[2] - g.x_px).powi(2) + (o[3] - g.y_px).powi(2)).sqrt();
                            // Spots whose light reaches the window (down to 2 % of a
                            // 20-grey-level spot's peak).
                            if j != k && o[0] >= 0.4 && d < reach + 3.0 * o[1] {
                                group.push(o);
                            }
                        }
                    }
                }
                (alone, var(&spots_crlb(&group, origin, sigma)))
            });
            samples.push(Sample {
                mean,
                cov,
                seen,
                detectable,
                view: v,
                position_var,
            });
        }
    }
    samples
}

/// Prints the Cramér–Rao floor of the position RMS of detectable grains, alone and among their
/// neighbours (grains whose floor exceeds 0.5 px cannot be told apart from a neighbour and are
/// counted, not averaged: a cluster matched to them sits between the two).
fn positions(samples: &[Sample]) {
    let vars: Vec<(f64, f64)> = samples.iter().filter_map(|s| s.position_var).collect();
    let rms = |v: &[f64]| (v.iter().sum::<f64>() / v.len().max(1) as f64).sqrt();
    let alone: Vec<f64> = vars.iter().map(|v| v.0).collect();
    let crowded: Vec<f64> = vars.iter().map(|v| v.1).filter(|&v| v <= 0.25).collect();
    println!(
        "  position floor (Cramér–Rao, x and y together): alone RMS {:.3} px; among neighbours RMS {:.3} px over the {:.1} % of detectable grains whose floor is ≤ 0.5 px",
        rms(&alone),
        rms(&crowded),
        100.0 * crowded.len() as f64 / vars.len().max(1) as f64
    );
}

/// Prints the ceiling's efficiency–purity curve at the bars and its best sum.
fn report(name: &str, samples: &[Sample], posterior: &[f64], detectable: usize) {
    let mut order: Vec<usize> = (0..samples.len()).collect();
    order.sort_by(|&i, &j| posterior[j].total_cmp(&posterior[i]));
    let (mut hits, mut curve) = (0usize, Vec::new());
    for (k, &i) in order.iter().enumerate() {
        hits += samples[i].detectable as usize;
        curve.push((
            hits as f64 / detectable as f64,
            hits as f64 / (k + 1) as f64,
            posterior[i],
        ));
    }
    println!("  observer with {name}:");
    let best = curve
        .iter()
        .copied()
        .max_by(|a, b| (a.0 + a.1).total_cmp(&(b.0 + b.1)))
        .unwrap();
    println!(
        "    best efficiency + purity: {:.4} / {:.4} (posterior ≥ {:.2})",
        best.0, best.1, best.2
    );
    for eff in [0.92, 0.94, 0.96, 0.97, 0.98] {
        if let Some(c) = curve.iter().find(|c| c.0 >= eff) {
            println!("    at efficiency {eff:.2}: purity at most {:.4}", c.1);
        }
    }
    for pur in [0.97, 0.985, 0.99] {
        let e = curve
            .iter()
            .filter(|c| c.1 >= pur)
            .map(|c| c.0)
            .fold(0.0, f64::max);
        println!("    at purity {pur:.3}: efficiency at most {e:.4}");
    }
}

/// Bayes posteriors P(detectable | seen) of `samples` with `prior` as the prior (each of its grains
/// j contributes its likelihood N(seen; mean_j, cov_j)); without one, the samples themselves,
/// each grain left out of its own (and, `per_view`, only grains of its own view).
fn posteriors(samples: &[Sample], prior: Option<&[Sample]>, per_view: bool) -> Vec<f64> {
    let own = prior.is_none();
    let prior = prior.unwrap_or(samples);
    // A grid over (peak, width) finds the grains whose likelihood matters.
    let (cp, cs) = (2.0, 0.1);
    let key = |m: [f64; 2]| ((m[0] / cp).floor() as i64, (m[1] / cs).floor() as i64);
    let mut grid: std::collections::HashMap<(i64, i64), Vec<usize>> = Default::default();
    for (j, s) in prior.iter().enumerate() {
        grid.entry(key(s.mean)).or_default().push(j);
    }
    samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let reach = |sd: f64, cell: f64| (6.0 * sd / cell).ceil() as i64 + 1;
            let (rp, rs) = (reach(s.cov[0].sqrt(), cp), reach(s.cov[2].sqrt(), cs));
            let (kp, ks) = key(s.seen);
            let (mut num, mut den) = (0.0, 0.0);
            for a in kp - rp..=kp + rp {
                for b in ks - rs..=ks + rs {
                    for &j in grid.get(&(a, b)).into_iter().flatten() {
                        let o = &prior[j];
                        if (own && j == i) || (per_view && o.view != s.view) {
                            continue;
                        }
                        let l = likelihood(s.seen, o.mean, o.cov);
                        den += l;
                        if o.detectable {
                            num += l;
                        }
                    }
                }
            }
            if den > 0.0 { num / den } else { 0.5 }
        })
        .collect()
}

/// The bivariate normal density of `x` with mean `m` and covariance [c00, c01, c11].
fn likelihood(x: [f64; 2], m: [f64; 2], c: [f64; 3]) -> f64 {
    let det = c[0] * c[2] - c[1] * c[1];
    if det <= 0.0 {
        return 0.0;
    }
    let (d0, d1) = (x[0] - m[0], x[1] - m[1]);
    let q = (c[2] * d0 * d0 - 2.0 * c[1] * d0 * d1 + c[0] * d1 * d1) / det;
    (-0.5 * q).exp() / (2.0 * std::f64::consts::PI * det.sqrt())
}

/// Cramér–Rao covariance [var(peak), cov(peak, width), var(width)] of a Gaussian spot of `peak`
/// and width `s` (px), centred (fx, fy) from a pixel centre, on an unknown flat background, in
/// white noise `sigma`, with the centre and the background as nuisance parameters.
fn crlb(peak: f64, s: f64, (fx, fy): (f64, f64), sigma: f64) -> [f64; 3] {
    let inv = spots_crlb(&[[peak, s, fx, fy]], (0.0, 0.0), sigma);
    [inv[0][0], inv[0][1], inv[1][1]]
}

/// Cramér–Rao covariance of every parameter of Gaussian spots `[peak, width, x, y]` (px, about
/// any origin) on an unknown flat background (the last parameter), all unknown, in white noise
/// `sigma`, from the pixel centres within 4 widths + 2 px of the pixel centre `(ox, oy)`.
fn spots_crlb(spots: &[[f64; 4]], (ox, oy): (f64, f64), sigma: f64) -> Vec<Vec<f64>> {
    let n = 4 * spots.len() + 1;
    let reach = (4.0 * spots[0][1]).ceil() as i64 + 2;
    let mut f = vec![vec![0.0f64; n]; n];
    let mut j = vec![0.0; n];
    for py in -reach..=reach {
        for px in -reach..=reach {
            let (x, y) = (ox + px as f64, oy + py as f64);
            for (k, &[peak, s, sx, sy]) in spots.iter().enumerate() {
                let (dx, dy) = (x - sx, y - sy);
                let r2 = dx * dx + dy * dy;
                let g = (-r2 / (2.0 * s * s)).exp();
                j[4 * k] = g;
                j[4 * k + 1] = peak * g * r2 / (s * s * s);
                j[4 * k + 2] = peak * g * dx / (s * s);
                j[4 * k + 3] = peak * g * dy / (s * s);
            }
            j[n - 1] = 1.0;
            for a in 0..n {
                for b in 0..n {
                    f[a][b] += j[a] * j[b] / (sigma * sigma);
                }
            }
        }
    }
    invert(f)
}

/// Gauss–Jordan inverse (partial pivoting) of a symmetric positive definite matrix; a singular
/// one (spots on top of each other) gives infinite variances.
fn invert(mut a: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let n = a.len();
    let mut inv = vec![vec![0.0; n]; n];
    for (i, row) in inv.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for c in 0..n {
        let pivot = (c..n)
            .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
            .unwrap();
        a.swap(c, pivot);
        inv.swap(c, pivot);
        let d = a[c][c];
        if d.abs() < 1e-300 {
            return vec![vec![f64::INFINITY; n]; n];
        }
        for k in 0..n {
            a[c][k] /= d;
            inv[c][k] /= d;
        }
        for r in 0..n {
            if r != c {
                let m = a[r][c];
                for k in 0..n {
                    a[r][k] -= m * a[c][k];
                    inv[r][k] -= m * inv[c][k];
                }
            }
        }
    }
    inv
}

/// Box–Muller, as the simulator draws its normals (the README's numbers come from these draws).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
