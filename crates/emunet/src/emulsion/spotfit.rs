//! Joint fits of Gaussian spots on a plane background to a window of the darkness map, for
//! grains whose neighbours' light would pull a centre of gravity (the deblending photometry
//! codes do for crowded star fields).
//!
//! Model of darkness at pixel centre (x, y), with (x̄, ȳ) the window's centre:
//! `b0 + bx·(x − x̄) + by·(y − ȳ) + Σ_k A_k · exp(−((x − x_k)² + (y − y_k)²) / (2 s_k²))`,
//! fitted by Levenberg–Marquardt least squares (the camera's noise is about the same on every
//! pixel of a window).

/// One Gaussian spot: centre (px, pixel centres at i + 0.5), peak above the background (grey
/// levels) and width σ (px).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spot {
    /// Centre x (px).
    pub x: f64,
    /// Centre y (px, down).
    pub y: f64,
    /// Peak above the background (grey levels); the fit keeps it ≥ 0.
    pub amplitude: f64,
    /// Gaussian width σ (px).
    pub sigma: f64,
}

impl Spot {
    /// The spot's value at (x, y).
    pub fn at(&self, x: f64, y: f64) -> f64 {
        let q = (x - self.x).powi(2) + (y - self.y).powi(2);
        self.amplitude * (-q / (2.0 * self.sigma * self.sigma)).exp()
    }
}

/// Bounds that keep the fit physical: spots no narrower than a focused grain can be and no wider
/// than a grain far out of the depth of field.
pub const SIGMA_MIN: f64 = 0.5;
/// Widest σ a fitted spot may take (px); [`SIGMA_MIN`] is the narrowest.
pub const SIGMA_MAX: f64 = 4.0;
/// Levenberg–Marquardt iterations at most.
pub const MAX_ITERATIONS: usize = 30;

/// The fitted window: spots, background plane `[b0, bx, by]` about `centre`, and the sum of
/// squared residuals.
#[derive(Clone, Debug)]
pub struct Fit {
    /// The fitted spots, in the order they were given.
    pub spots: Vec<Spot>,
    /// Background plane: level `b0` at `centre` and slopes `bx`, `by` per px.
    pub plane: [f64; 3],
    /// Mean (x, y) of the samples (px): the plane's origin.
    pub centre: (f64, f64),
    /// Sum of squared residuals over the samples (grey levels²).
    pub chi2: f64,
}

impl Fit {
    /// The fitted model at (x, y).
    pub fn at(&self, x: f64, y: f64) -> f64 {
        let [b0, bx, by] = self.plane;
        b0 + bx * (x - self.centre.0)
            + by * (y - self.centre.1)
            + self.spots.iter().map(|s| s.at(x, y)).sum::<f64>()
    }
}

/// Fits `spots` (their values are the starting point) and a plane starting at `plane` to the
/// `(x, y, darkness)` samples. Returns `None` when there are no more samples than parameters; where the
/// normal equations cannot be solved, the damping grows and the best fit so far is returned.
pub fn fit_spots(samples: &[(f64, f64, f64)], spots: &[Spot], plane: [f64; 3]) -> Option<Fit> {
    let n = 3 + 4 * spots.len();
    if samples.len() <= n {
        return None;
    }
    let centre = samples.iter().fold((0.0, 0.0), |a, s| {
        (
            a.0 + s.0 / samples.len() as f64,
            a.1 + s.1 / samples.len() as f64,
        )
    });
    let mut fit = Fit {
        spots: spots.to_vec(),
        plane,
        centre,
        chi2: 0.0,
    };
    fit.chi2 = chi2(&fit, samples);
    let mut lambda = 1e-3;
    let mut jtj = vec![0.0; n * n];
    let mut jtr = vec![0.0; n];
    let mut row = vec![0.0; n];
    for _ in 0..MAX_ITERATIONS {
        jtj.iter_mut().for_each(|v| *v = 0.0);
        jtr.iter_mut().for_each(|v| *v = 0.0);
        for &(x, y, d) in samples {
            row[0] = 1.0;
            row[1] = x - centre.0;
            row[2] = y - centre.1;
            // The model's value is summed from the same terms as its derivatives.
            let mut r = fit.plane[0] + fit.plane[1] * row[1] + fit.plane[2] * row[2] - d;
            for (k, s) in fit.spots.iter().enumerate() {
                let (dx, dy) = (x - s.x, y - s.y);
                let inv = 1.0 / (s.sigma * s.sigma);
                let g = (-(dx * dx + dy * dy) * 0.5 * inv).exp();
                let ag = s.amplitude * g;
                r += ag;
                row[3 + 4 * k] = g;
                row[4 + 4 * k] = ag * dx * inv;
                row[5 + 4 * k] = ag * dy * inv;
                row[6 + 4 * k] = ag * (dx * dx + dy * dy) * inv / s.sigma;
            }
            for i in 0..n {
                if row[i] == 0.0 {
                    continue;
                }
                jtr[i] += row[i] * r;
                for j in 0..=i {
                    jtj[i * n + j] += row[i] * row[j];
                }
            }
        }
        let mut improved = false;
        for _ in 0..8 {
            let Some(step) = solve_damped(&jtj, &jtr, n, lambda) else {
                lambda *= 10.0;
                continue;
            };
            let trial = apply(&fit, &step);
            let c = chi2(&trial, samples);
            if c < fit.chi2 {
                let gain = fit.chi2 - c;
                fit = Fit { chi2: c, ..trial };
                lambda = (lambda / 3.0).max(1e-9);
                improved = gain > 1e-9 * fit.chi2.max(1e-12);
                break;
            }
            lambda *= 4.0;
        }
        if !improved {
            break;
        }
    }
    Some(fit)
}

fn chi2(fit: &Fit, samples: &[(f64, f64, f64)]) -> f64 {
    samples
        .iter()
        .map(|&(x, y, d)| (fit.at(x, y) - d).powi(2))
        .sum()
}

/// The fit moved by −`step`, with amplitudes kept ≥ 0 and widths in [`SIGMA_MIN`, `SIGMA_MAX`].
fn apply(fit: &Fit, step: &[f64]) -> Fit {
    let mut out = fit.clone();
    for (p, s) in out.plane.iter_mut().zip(step) {
        *p -= s;
    }
    for (k, s) in out.spots.iter_mut().enumerate() {
        let d = &step[3 + 4 * k..7 + 4 * k];
        s.amplitude = (s.amplitude - d[0]).max(0.0);
        s.x -= d[1].clamp(-1.0, 1.0);
        s.y -= d[2].clamp(-1.0, 1.0);
        s.sigma = (s.sigma - d[3]).clamp(SIGMA_MIN, SIGMA_MAX);
    }
    out
}

/// Solves (JᵀJ + λ·diag(JᵀJ)) δ = Jᵀr by Cholesky (`jtj` holds the lower triangle).
fn solve_damped(jtj: &[f64], jtr: &[f64], n: usize, lambda: f64) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut v = jtj[i * n + j];
            if i == j {
                v += lambda * jtj[i * n + i].max(1e-12);
            }
            for k in 0..j {
                v -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if v <= 0.0 || !v.is_finite() {
                    return None;
                }
                l[i * n + i] = v.sqrt();
            } else {
                l[i * n + j] = v / l[j * n + j];
            }
        }
    }
    let mut z = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * z[k]).sum();
        z[i] = (jtr[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (z[i] - s) / l[i * n + i];
    }
    Some(x)
}
