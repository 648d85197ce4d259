//! How high can a pixel Jaccard against the simulator's truth go? An optimistic oracle: it knows
//! every grain of the view exactly (position, depth, size, contrast) except one, which in-focus
//! grains exist, and the nuisance-free haze of all the others; it fits that one grain's own
//! parameters (local background, amplitude, centre, width) to the noisy frame by least squares
//! in a window, starting from the true values, and marks the pixels where the fitted own
//! darkening reaches the truth threshold (20 grey levels), fitting in linear light (the camera's
//! gamma undone). The union over in-focus grains is
//! scored against the truth mask. A network sees only the pixels, so it cannot be expected to
//! beat this number.
//!
//! ```sh
//! cargo run --release --example oracle_ceiling -- [PRESET] [VIEWS [SEED [HALF_WINDOW [NOISE [COLUMNS [FIRST_VIEW]]]]]]
//! ```
//! PRESET is easy, nominal (the default), hard or mixed (each view its own draw; NOISE and
//! COLUMNS then override every view's). Defaults: 3 views of seed 777 (those of `emunet simulate --count 3 --seed 777`), an
//! 11 × 11 window, the preset's temporal noise σ and column-pattern σ (grey levels), views from 0.
//! `emunet train --simulate` validates on views 2^40 + i of its seed (default 0):
//! `oracle_ceiling 3 0 5 2.5 1.5 1099511627776` scores the oracle on those.
#![allow(clippy::needless_range_loop)] // small dense linear algebra reads best with indices

use emunet_tools::simulate::{Preset, SimParams, View, focal_planes};

struct G {
    cx: f64,
    cy: f64,
    a: f64,
    s: f64,
    inf: bool,
}

fn main() {
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    let preset = match names.first().map(String::as_str) {
        Some("easy") => Some(Preset::Easy),
        Some("nominal") => Some(Preset::Nominal),
        Some("hard") => Some(Preset::Hard),
        Some("mixed") => Some(Preset::Mixed),
        _ => None,
    };
    if preset.is_some() {
        names.remove(0);
    }
    let preset = preset.unwrap_or(Preset::Nominal);
    let args: Vec<f64> = names
        .iter()
        .map(|a| {
            a.parse().unwrap_or_else(|_| {
                eprintln!("usage: oracle_ceiling [PRESET] [VIEWS [SEED [HALF_WINDOW [NOISE [COLUMNS [FIRST_VIEW]]]]]]");
                std::process::exit(2)
            })
        })
        .collect();
    let arg = |k: usize, default: f64| args.get(k).copied().unwrap_or(default);
    let (count, seed, half) = (
        arg(0, 3.0) as usize,
        arg(1, 777.0) as u64,
        arg(2, 5.0) as i64,
    );
    let base = SimParams::preset(preset);
    let first = arg(5, 0.0) as u64;
    println!(
        "oracle on {count} {preset:?} view(s) of seed {seed}: window {0}×{0}, noise σ {1}, column σ {2}",
        2 * half + 1,
        args.get(3).map_or("preset's".into(), |v| v.to_string()),
        args.get(4).map_or("preset's".into(), |v| v.to_string()),
    );
    let p = &base;
    let (w, h) = (p.width, p.height);
    let (mut inter, mut union) = (0u64, 0u64);
    for v in first..first + count as u64 {
        // The view's own parameters (a mixed view draws them), with the noise overrides.
        let mut p = View::new(p, seed, v).unwrap().params().clone();
        p.noise_sigma = arg(3, p.noise_sigma);
        p.column_sigma = arg(4, p.column_sigma);
        let mut view = View::new(&p, seed, v).unwrap();
        let z = focal_planes(&p, seed, v, 1)[0];
        let frame = view.render(String::new(), z);
        let img: Vec<f64> = (0..w * h).map(|i| frame.image.value(i) as f64).collect();
        let gs: Vec<G> = view
            .grains
            .iter()
            .map(|g| {
                let dz = g.z_um - z;
                let (a, s) = g.spot(&p, dz);
                G {
                    cx: g.x_um / p.pixel_um,
                    cy: g.y_um / p.pixel_um,
                    a,
                    s,
                    inf: dz.abs() <= p.in_focus_um,
                }
            })
            .collect();
        // Noiseless transmission of all grains.
        let mut t = vec![1.0f64; w * h];
        let spot = |g: &G, x: usize, y: usize| {
            let d2 = (x as f64 + 0.5 - g.cx).powi(2) + (y as f64 + 0.5 - g.cy).powi(2);
            g.a * (-d2 / (2.0 * g.s * g.s)).exp()
        };
        for g in &gs {
            if g.a * p.background < 0.02 {
                continue;
            }
            let r = (g.s * (2.0 * (g.a * p.background / 0.02).ln()).sqrt()).ceil() as i64 + 1;
            for y in (g.cy as i64 - r).max(0)..(g.cy as i64 + r).min(h as i64) {
                for x in (g.cx as i64 - r).max(0)..(g.cx as i64 + r).min(w as i64) {
                    t[y as usize * w + x as usize] *= 1.0 - spot(g, x as usize, y as usize);
                }
            }
        }
        let mut pred = vec![false; w * h];
        for g in gs.iter().filter(|g| g.inf && g.a * p.background >= 19.0) {
            let (x0, y0) = ((g.cx as i64 - half).max(0), (g.cy as i64 - half).max(0));
            let (x1, y1) = (
                (g.cx as i64 + half + 1).min(w as i64),
                (g.cy as i64 + half + 1).min(h as i64),
            );
            if x0 >= x1 || y0 >= y1 {
                continue;
            }
            let px: Vec<(usize, usize)> = (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x as usize, y as usize)))
                .collect();
            // Others' transmission: all grains' divided by this one's.
            let others: Vec<f64> = px
                .iter()
                .map(|&(x, y)| t[y * w + x] / (1.0 - spot(g, x, y)))
                .collect();
            // Observations back in linear light: the oracle knows the camera's gamma too
            // (out = 255 · (I / 255)^(1/γ)), so the hard and mixed presets' response curve does
            // not bias its fit.
            let obs: Vec<f64> = px
                .iter()
                .map(|&(x, y)| 255.0 * (img[y * w + x].max(0.0) / 255.0).powf(p.gamma))
                .collect();
            // Parameters: background, amplitude, centre x, centre y, width.
            let model = |q: &[f64; 5], k: usize| {
                let (x, y) = px[k];
                let d2 = (x as f64 + 0.5 - q[2]).powi(2) + (y as f64 + 0.5 - q[3]).powi(2);
                q[0] * others[k] * (1.0 - q[1] * (-d2 / (2.0 * q[4] * q[4])).exp())
            };
            let cost = |q: &[f64; 5]| -> f64 {
                (0..px.len()).map(|k| (model(q, k) - obs[k]).powi(2)).sum()
            };
            let mut q = [p.background, g.a, g.cx, g.cy, g.s];
            let mut lambda = 1e-2;
            let mut c = cost(&q);
            for _ in 0..60 {
                // Jacobian by central differences.
                let steps = [1e-3, 1e-5, 1e-4, 1e-4, 1e-4];
                let mut jac = vec![[0.0f64; 5]; px.len()];
                for j in 0..5 {
                    let (mut qp, mut qm) = (q, q);
                    qp[j] += steps[j];
                    qm[j] -= steps[j];
                    for k in 0..px.len() {
                        jac[k][j] = (model(&qp, k) - model(&qm, k)) / (2.0 * steps[j]);
                    }
                }
                let mut a = [[0.0f64; 5]; 5];
                let mut b = [0.0f64; 5];
                for k in 0..px.len() {
                    let r = obs[k] - model(&q, k);
                    for i in 0..5 {
                        b[i] += jac[k][i] * r;
                        for j in 0..5 {
                            a[i][j] += jac[k][i] * jac[k][j];
                        }
                    }
                }
                let mut improved = false;
                for _ in 0..8 {
                    let mut m = a;
                    for i in 0..5 {
                        m[i][i] *= 1.0 + lambda;
                    }
                    let Some(dq) = solve(m, b) else { break };
                    let mut qn = q;
                    for i in 0..5 {
                        qn[i] += dq[i];
                    }
                    qn[1] = qn[1].clamp(0.0, 0.95);
                    qn[4] = qn[4].clamp(0.3, 10.0);
                    let cn = cost(&qn);
                    if cn < c {
                        (q, c, lambda) = (qn, cn, lambda * 0.3);
                        improved = true;
                        break;
                    }
                    lambda *= 10.0;
                }
                if !improved {
                    break;
                }
            }
            for &(x, y) in &px {
                let d2 = (x as f64 + 0.5 - q[2]).powi(2) + (y as f64 + 0.5 - q[3]).powi(2);
                if q[0] * q[1] * (-d2 / (2.0 * q[4] * q[4])).exp() >= p.truth_threshold {
                    pred[y * w + x] = true;
                }
            }
        }
        for (i, &on) in pred.iter().enumerate() {
            let tr = frame.truth[i] != 0;
            inter += (on && tr) as u64;
            union += (on || tr) as u64;
        }
        println!(
            "view {v}: pooled Jaccard so far {:.4}",
            inter as f64 / union as f64
        );
    }
}

fn solve(mut m: [[f64; 5]; 5], mut b: [f64; 5]) -> Option<[f64; 5]> {
    for c in 0..5 {
        let piv = (c..5).max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs()))?;
        if m[piv][c].abs() < 1e-12 {
            return None;
        }
        m.swap(c, piv);
        b.swap(c, piv);
        for r in 0..5 {
            if r != c {
                let f = m[r][c] / m[c][c];
                for k in 0..5 {
                    m[r][k] -= f * m[c][k];
                }
                b[r] -= f * b[c];
            }
        }
    }
    Some(std::array::from_fn(|i| b[i] / m[i][i]))
}
