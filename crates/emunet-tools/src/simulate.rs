//! The emulsion frame simulator (`docs/spec/emulsion.md`): grains placed in 3D (fog and tracks),
//! each imaged with the defocus of its depth below the focal plane, transmitted light
//! `I = B(x, y) · Π (1 − a·g(x, y))` with vignetting, column fixed-pattern and temporal noise,
//! gamma, dust, scratches and an optional bright edge strip, rounded to u8. The truth mask is the
//! union over in-focus grains (|Δz| ≤ 1.5 µm) of the pixels where the grain's own noiseless
//! darkening `B·a·g` reaches 20 grey levels.
//!
//! Every random draw comes from a seeded ChaCha8 stream and every transcendental function from
//! `libm` (a pure-Rust libm), so the same seed gives the same bytes on any machine.

use emunet::error::{Error, Result};
use emunet::frame::Frame;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Named parameter sets: `easy` (low fog, no nuisances, low noise), `nominal` (the defaults),
/// `hard` (dense fog and tracks, low contrast, strong noise and vignetting, dust and scratches),
/// and `mixed`: every view draws its own parameters from wide ranges around emulsion.md's table
/// ([`SimParams::draw_view`]), so a model trained on it meets many stations, not one preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Easy,
    Nominal,
    Hard,
    Mixed,
}

emunet::choice!(Preset {
    Easy => "easy",
    Nominal => "nominal",
    Hard => "hard",
    Mixed => "mixed",
});

/// Everything the simulator draws from. Lengths in µm, intensities in grey levels.
#[derive(Clone, Debug, PartialEq)]
pub struct SimParams {
    pub width: usize,
    pub height: usize,
    pub pixel_um: f64,
    pub layer_um: f64,
    /// Focal-plane step within a view (frames-per-view > 1).
    pub step_um: f64,
    pub grain_diameter_um: f64,
    /// Relative spread (σ) of grain diameters, clipped to 0.4–1.0 µm.
    pub grain_diameter_spread: f64,
    /// Fraction of fog grains that come with a touching partner.
    pub touching_fraction: f64,
    /// Fog grains per 1000 µm³.
    pub fog_density: f64,
    pub tracks_per_mm2: f64,
    /// Track slopes tanθx, tanθy are uniform in ±this.
    pub track_slope: f64,
    pub track_grains_per_100um: f64,
    pub track_jitter_um: f64,
    /// In-focus blur σ0 and defocus growth: σ(Δz) = √(σ0² + (k·Δz)²).
    pub blur_sigma0_um: f64,
    pub defocus_k: f64,
    pub in_focus_um: f64,
    pub background: f64,
    /// Darkening (grey levels) of an in-focus grain's centre; per-grain log-normal spread.
    pub contrast: f64,
    pub contrast_spread: f64,
    /// Vignetting, peak to peak, as a fraction of the background.
    pub vignetting: f64,
    pub column_sigma: f64,
    pub noise_sigma: f64,
    /// Camera response: out = 255 · (I / 255)^(1/gamma).
    pub gamma: f64,
    /// Inclusive ranges of dust blobs and scratches per view.
    pub dust: (u32, u32),
    pub scratches: (u32, u32),
    /// Probability that a view has a bright strip along one edge.
    pub edge_strip_probability: f64,
    /// Truth threshold on a grain's own darkening (grey levels): a contract of emulsion.md.
    pub truth_threshold: f64,
    /// Signal-dependent (shot) noise: the temporal noise variance is
    /// `noise_sigma² + shot_noise · response` (grey levels²).
    pub shot_noise: f64,
    /// Draw each view's parameters anew ([`SimParams::draw_view`]): the `mixed` preset.
    pub vary_per_view: bool,
    /// Keep `pixel_um` in every view's draw (`simulate --pixel-um` on the `mixed` preset).
    pub pixel_um_fixed: bool,
}

impl SimParams {
    /// The parameters of a preset at the station's frame size (1280×1024).
    ///
    /// Nominal fog is 7 grains per 1000 µm³ (emulsion.md's range is 1–10, its table says 3):
    /// with 3 a frame holds only ~1,000 in-focus grains and ~0.5 % cluster pixels, while stations
    /// tune their views to ~2,200 clusters and 1–3 % of pixels are clusters; 7 gives both.
    pub fn preset(preset: Preset) -> Self {
        let nominal = SimParams {
            width: 1280,
            height: 1024,
            pixel_um: 0.30,
            layer_um: 44.0,
            step_um: 2.9,
            grain_diameter_um: 0.6,
            grain_diameter_spread: 0.15,
            touching_fraction: 0.01,
            fog_density: 7.0,
            tracks_per_mm2: 100.0,
            track_slope: 0.5,
            track_grains_per_100um: 30.0,
            track_jitter_um: 0.25,
            blur_sigma0_um: 0.15,
            defocus_k: 0.35,
            in_focus_um: 1.5,
            background: 200.0,
            contrast: 90.0,
            contrast_spread: 0.2,
            vignetting: 0.06,
            column_sigma: 1.5,
            noise_sigma: 2.5,
            gamma: 1.0,
            dust: (0, 3),
            scratches: (0, 2),
            edge_strip_probability: 0.1,
            truth_threshold: 20.0,
            shot_noise: 0.0,
            vary_per_view: false,
            pixel_um_fixed: false,
        };
        match preset {
            Preset::Nominal => nominal,
            Preset::Mixed => SimParams {
                vary_per_view: true,
                ..nominal
            },
            Preset::Easy => SimParams {
                fog_density: 4.0,
                contrast: 110.0,
                vignetting: 0.02,
                column_sigma: 0.5,
                noise_sigma: 1.0,
                dust: (0, 0),
                scratches: (0, 0),
                edge_strip_probability: 0.0,
                ..nominal
            },
            Preset::Hard => SimParams {
                fog_density: 8.0,
                tracks_per_mm2: 1000.0,
                contrast: 50.0,
                vignetting: 0.12,
                column_sigma: 2.5,
                noise_sigma: 4.0,
                gamma: 1.2,
                dust: (1, 4),
                scratches: (1, 3),
                edge_strip_probability: 0.3,
                ..nominal
            },
        }
    }

    /// The parameters of view `view` of a run seeded with `seed`: these parameters themselves,
    /// or, for the `mixed` preset, a draw from wide ranges around emulsion.md's table (frame
    /// size, layer, focal step and the truth threshold are kept). The draw comes from a stream
    /// of its own, so the view's grains and noise streams are those any preset would use.
    pub fn draw_view(&self, seed: u64, view: u64) -> SimParams {
        if !self.vary_per_view {
            return self.clone();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d69_7865_645f_7669);
        rng.set_stream(view + 1);
        let mut u = |lo: f64, hi: f64| rng.random_range(lo..=hi);
        let log_uniform =
            |x: f64, lo: f64, hi: f64| libm::exp(libm::log(lo) + x * libm::log(hi / lo));
        // Drawn even when kept, so that every other draw is the same.
        let pixel_um = u(0.28, 0.36);
        SimParams {
            pixel_um: if self.pixel_um_fixed {
                self.pixel_um
            } else {
                pixel_um
            },
            grain_diameter_um: u(0.45, 0.9),
            grain_diameter_spread: u(0.05, 0.25),
            touching_fraction: u(0.0, 0.03),
            fog_density: u(1.0, 10.0),
            tracks_per_mm2: log_uniform(u(0.0, 1.0), 10.0, 3000.0),
            track_slope: 0.5,
            track_grains_per_100um: u(25.0, 40.0),
            blur_sigma0_um: u(0.10, 0.25),
            defocus_k: u(0.25, 0.45),
            background: u(170.0, 245.0),
            contrast: u(40.0, 150.0),
            contrast_spread: u(0.1, 0.3),
            vignetting: u(0.02, 0.15),
            column_sigma: u(0.0, 3.0),
            noise_sigma: u(1.0, 5.0),
            shot_noise: if u(0.0, 1.0) < 0.5 { 0.0 } else { u(0.0, 0.1) },
            gamma: u(0.8, 1.3),
            dust: (0, u(0.0, 4.99) as u32),
            scratches: (0, u(0.0, 3.99) as u32),
            edge_strip_probability: 0.2,
            vary_per_view: false,
            ..self.clone()
        }
    }

    /// Rejects sizes and values the renderer cannot use.
    pub fn check(&self) -> Result<()> {
        if self.width < 16 || self.height < 16 || self.width > 16384 || self.height > 16384 {
            return Err(Error::Shape(format!(
                "simulated frames must be 16..=16384 pixels per side, not {}×{}",
                self.width, self.height
            )));
        }
        if !(self.pixel_um > 0.0 && self.layer_um > 0.0 && self.background > 0.0) {
            return Err(Error::Shape(
                "pixel size, layer and background must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// One silver grain of a view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grain {
    pub x_um: f64,
    pub y_um: f64,
    pub z_um: f64,
    pub diameter_um: f64,
    /// Darkening of the grain's centre when in focus (grey levels).
    pub contrast: f64,
    /// Track id, or −1 for fog.
    pub track: i32,
}

impl Grain {
    /// The grain's image at defocus `dz` (µm): a Gaussian of the disc's variance blurred by the
    /// optics, as (peak absorption `a`, σ in pixels); the darkening at the centre is
    /// `a · background`. Integrated darkness is conserved: the peak falls as 1/σ².
    pub fn spot(&self, p: &SimParams, dz: f64) -> (f64, f64) {
        let var_grain = self.diameter_um * self.diameter_um / 8.0;
        let var_focus = var_grain + p.blur_sigma0_um * p.blur_sigma0_um;
        let var = var_focus + (p.defocus_k * dz) * (p.defocus_k * dz);
        let a = (self.contrast / p.background * var_focus / var).min(0.95);
        (a, libm::sqrt(var) / p.pixel_um)
    }
}

/// One grain's row in `grains.csv` for one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct GrainRecord {
    pub grain: usize,
    pub x_px: f64,
    pub y_px: f64,
    pub x_um: f64,
    pub y_um: f64,
    pub z_um: f64,
    pub dz_um: f64,
    pub in_focus: bool,
    pub track: i32,
    /// Truth pixels where this grain's own darkening reaches the truth threshold.
    pub truth_px: usize,
}

/// A rendered frame with its exact truth.
pub struct SimFrame {
    pub name: String,
    pub image: Frame,
    /// Truth mask, 0 or 255 per pixel.
    pub truth: Vec<u8>,
    /// Per pixel, the largest own darkening of an in-focus grain (grey levels, against the clean
    /// background): the truth mask is exactly `darkness ≥ truth_threshold`.
    pub darkness: Vec<f32>,
    /// Grains within 3 µm of the focal plane whose centre lies in the frame or within 2 µm of it.
    pub grains: Vec<GrainRecord>,
    pub focal_plane_um: f64,
}

/// The header of `grains.csv` (emulsion.md).
pub const GRAINS_CSV_HEADER: &str =
    "frame,grain,x_px,y_px,x_um,y_um,z_um,dz_um,in_focus,track,truth_px";

/// Deterministic standard normal (Box–Muller on libm).
fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
}

/// Deterministic Poisson draw: Knuth's product method for small means, a rounded normal
/// approximation (error ≪ the spread) for large ones.
fn poisson(rng: &mut impl Rng, mean: f64) -> usize {
    if mean <= 0.0 {
        return 0;
    }
    if mean < 50.0 {
        let limit = libm::exp(-mean);
        let mut k = 0;
        let mut p: f64 = rng.random();
        while p > limit {
            k += 1;
            p *= rng.random::<f64>();
        }
        k
    } else {
        (mean + libm::sqrt(mean) * normal(rng)).round().max(0.0) as usize
    }
}

/// The random stream of view `view` of a run seeded with `seed`.
fn view_rng(seed: u64, view: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(view + 1);
    rng
}

/// Nuisances fixed for all focal planes of a view, and the camera's fixed pattern.
struct ViewOptics {
    /// Background B(x, y) including vignetting, column pattern, dust, scratches and edge strip.
    background: Vec<f64>,
    /// Background without nuisances (the truth uses the grain's own darkening against it).
    clean_background: Vec<f64>,
}

/// A view: its grains and optics; frames are rendered from it at given focal planes.
pub struct View {
    params: SimParams,
    pub grains: Vec<Grain>,
    optics: ViewOptics,
    rng: ChaCha8Rng,
}

impl View {
    /// Draws the grains and nuisances of view `view` for `seed`.
    pub fn new(params: &SimParams, seed: u64, view: u64) -> Result<Self> {
        params.check()?;
        let drawn = params.draw_view(seed, view);
        let p = &drawn;
        let mut rng = view_rng(seed, view);
        let (fw, fh) = (p.width as f64 * p.pixel_um, p.height as f64 * p.pixel_um);
        // Grains up to `margin` outside the field still blur into it.
        let margin = 3.0;
        let (ax0, ay0, aw, ah) = (-margin, -margin, fw + 2.0 * margin, fh + 2.0 * margin);
        let mut grains = Vec::new();
        let diameter = |rng: &mut ChaCha8Rng| {
            (p.grain_diameter_um * (1.0 + p.grain_diameter_spread * normal(rng))).clamp(0.4, 1.0)
        };
        let contrast =
            |rng: &mut ChaCha8Rng| p.contrast * libm::exp(p.contrast_spread * normal(rng));
        let fog = poisson(&mut rng, p.fog_density * 1e-3 * aw * ah * p.layer_um);
        for _ in 0..fog {
            let g = Grain {
                x_um: ax0 + rng.random::<f64>() * aw,
                y_um: ay0 + rng.random::<f64>() * ah,
                z_um: rng.random::<f64>() * p.layer_um,
                diameter_um: diameter(&mut rng),
                contrast: contrast(&mut rng),
                track: -1,
            };
            grains.push(g);
            if rng.random::<f64>() < p.touching_fraction {
                // A partner touching it, in a random direction mostly across the plane.
                let d = diameter(&mut rng);
                let phi = rng.random::<f64>() * 2.0 * std::f64::consts::PI;
                let dist = 0.5 * (g.diameter_um + d) * rng.random_range(0.9..1.1);
                grains.push(Grain {
                    x_um: g.x_um + dist * libm::cos(phi),
                    y_um: g.y_um + dist * libm::sin(phi),
                    z_um: g.z_um + 0.2 * normal(&mut rng),
                    diameter_um: d,
                    contrast: contrast(&mut rng),
                    track: -1,
                });
            }
        }
        // Tracks enter the layer's top anywhere over an area widened by their largest shift.
        let shift = p.track_slope * p.layer_um;
        let (tx0, ty0, tw, th) = (ax0 - shift, ay0 - shift, aw + 2.0 * shift, ah + 2.0 * shift);
        let tracks = poisson(&mut rng, p.tracks_per_mm2 * tw * th * 1e-6);
        for t in 0..tracks {
            let (x0, y0) = (
                tx0 + rng.random::<f64>() * tw,
                ty0 + rng.random::<f64>() * th,
            );
            let sx = rng.random_range(-p.track_slope..=p.track_slope);
            let sy = rng.random_range(-p.track_slope..=p.track_slope);
            let cos_theta = 1.0 / libm::sqrt(1.0 + sx * sx + sy * sy);
            let rate = p.track_grains_per_100um / 100.0; // grains per µm of path
            let mut s = 0.0;
            loop {
                s += -libm::log(rng.random_range(f64::MIN_POSITIVE..1.0)) / rate;
                let z = s * cos_theta;
                if z > p.layer_um {
                    break;
                }
                let j = p.track_jitter_um;
                let g = Grain {
                    x_um: x0 + sx * z + j * normal(&mut rng),
                    y_um: y0 + sy * z + j * normal(&mut rng),
                    z_um: (z + j * normal(&mut rng)).clamp(0.0, p.layer_um),
                    diameter_um: diameter(&mut rng),
                    contrast: contrast(&mut rng),
                    track: t as i32,
                };
                if g.x_um >= ax0 && g.x_um < ax0 + aw && g.y_um >= ay0 && g.y_um < ay0 + ah {
                    grains.push(g);
                }
            }
        }
        let optics = ViewOptics::new(p, &mut rng, seed);
        Ok(View {
            params: p.clone(),
            grains,
            optics,
            rng,
        })
    }

    /// The background without nuisances (vignetting only) that the truth measures own
    /// darkening against, per pixel.
    pub fn clean_background(&self) -> &[f64] {
        &self.optics.clean_background
    }

    /// The parameters this view was drawn with (for the `mixed` preset, its own draw).
    pub fn params(&self) -> &SimParams {
        &self.params
    }

    /// Renders the frame at focal plane `z_focus` (µm from the layer's top).
    pub fn render(&mut self, name: String, z_focus: f64) -> SimFrame {
        let p = &self.params;
        let (w, h) = (p.width, p.height);
        let mut transmission = vec![1.0f64; w * h];
        let mut truth = vec![0u8; w * h];
        let mut darkness = vec![0f32; w * h];
        let mut records = Vec::new();
        let px = p.pixel_um;
        let min_dark = 0.02; // grey levels below which a grain's tail is not drawn
        for (id, g) in self.grains.iter().enumerate() {
            let dz = g.z_um - z_focus;
            let (a, sigma_px) = g.spot(p, dz);
            let in_focus = dz.abs() <= p.in_focus_um;
            let (cx, cy) = (g.x_um / px, g.y_um / px); // pixel frame: centres at i + 0.5
            let peak = a * p.background;
            let near = dz.abs() <= 3.0
                && cx >= -2.0 / px * 1.0
                && cy >= -2.0 / px
                && cx < w as f64 + 2.0 / px
                && cy < h as f64 + 2.0 / px;
            let mut truth_px = 0;
            if peak >= min_dark {
                let reach = sigma_px * libm::sqrt(2.0 * libm::log(peak / min_dark));
                let x0 = ((cx - reach).floor().max(0.0)) as usize;
                let y0 = ((cy - reach).floor().max(0.0)) as usize;
                let x1 = ((cx + reach).ceil().min(w as f64)) as usize;
                let y1 = ((cy + reach).ceil().min(h as f64)) as usize;
                if x0 < x1 && y0 < y1 {
                    // Separable Gaussian: one exp per row and per column.
                    let inv = 1.0 / (2.0 * sigma_px * sigma_px);
                    let gx: Vec<f64> = (x0..x1)
                        .map(|x| libm::exp(-((x as f64 + 0.5 - cx).powi(2)) * inv))
                        .collect();
                    for y in y0..y1 {
                        let gy = libm::exp(-((y as f64 + 0.5 - cy).powi(2)) * inv);
                        let row = y * w;
                        for (i, x) in (x0..x1).enumerate() {
                            let ag = a * gx[i] * gy;
                            transmission[row + x] *= 1.0 - ag;
                            if in_focus {
                                let d = self.optics.clean_background[row + x] * ag;
                                darkness[row + x] = darkness[row + x].max(d as f32);
                                if d >= p.truth_threshold {
                                    truth[row + x] = 255;
                                    truth_px += 1;
                                }
                            }
                        }
                    }
                }
            }
            if near {
                records.push(GrainRecord {
                    grain: id,
                    x_px: cx,
                    y_px: cy,
                    x_um: g.x_um,
                    y_um: g.y_um,
                    z_um: g.z_um,
                    dz_um: dz,
                    in_focus,
                    track: g.track,
                    truth_px,
                });
            }
        }
        // Camera: light, gamma, temporal noise, u8 rounding and clipping.
        let rng = &mut self.rng;
        let inv_gamma = 1.0 / p.gamma;
        let pixels = (0..w * h)
            .map(|i| {
                let light = (self.optics.background[i] * transmission[i]).max(0.0);
                let response = 255.0 * libm::pow(light / 255.0, inv_gamma);
                let sigma = if p.shot_noise > 0.0 {
                    libm::sqrt(p.noise_sigma * p.noise_sigma + p.shot_noise * response)
                } else {
                    p.noise_sigma
                };
                let v = response + sigma * normal(rng);
                v.round().clamp(0.0, 255.0) as u8
            })
            .collect();
        SimFrame {
            name,
            image: Frame::from_u8(w, h, pixels).expect("size matches"),
            truth,
            darkness,
            grains: records,
            focal_plane_um: z_focus,
        }
    }
}

impl ViewOptics {
    fn new(p: &SimParams, rng: &mut ChaCha8Rng, seed: u64) -> Self {
        let (w, h) = (p.width, p.height);
        // Vignetting: a paraboloid around an optical centre a little off the frame's centre.
        let ocx = w as f64 * (0.5 + 0.1 * (rng.random::<f64>() - 0.5));
        let ocy = h as f64 * (0.5 + 0.1 * (rng.random::<f64>() - 0.5));
        let r2max = (w as f64 * w as f64 + h as f64 * h as f64) / 4.0;
        let columns = column_pattern(p, seed);
        let mut clean = vec![0.0; w * h];
        for y in 0..h {
            for x in 0..w {
                let r2 = ((x as f64 + 0.5 - ocx).powi(2) + (y as f64 + 0.5 - ocy).powi(2)) / r2max;
                clean[y * w + x] = p.background * (1.0 + p.vignetting * (0.5 - r2));
            }
        }
        let mut background = clean.clone();
        for (i, b) in background.iter_mut().enumerate() {
            *b += columns[i % w];
        }
        let count = |rng: &mut ChaCha8Rng, (lo, hi): (u32, u32)| rng.random_range(lo..=hi);
        // Dust: soft dark discs of 5–50 µm.
        for _ in 0..count(rng, p.dust) {
            let (cx, cy) = (
                rng.random::<f64>() * w as f64,
                rng.random::<f64>() * h as f64,
            );
            let radius = rng.random_range(2.5..25.0) / p.pixel_um;
            let depth = rng.random_range(4.0..15.0);
            let edge = 0.3 * radius;
            for y in 0..h {
                for x in 0..w {
                    let r =
                        libm::sqrt((x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2));
                    let t = ((radius + edge - r) / (2.0 * edge)).clamp(0.0, 1.0);
                    if t > 0.0 {
                        background[y * w + x] -= depth * t * t * (3.0 - 2.0 * t);
                    }
                }
            }
        }
        // Scratches: faint straight lines 1–3 px wide.
        for _ in 0..count(rng, p.scratches) {
            let (x0, y0) = (
                rng.random::<f64>() * w as f64,
                rng.random::<f64>() * h as f64,
            );
            let phi = rng.random::<f64>() * std::f64::consts::PI;
            let (dx, dy) = (libm::cos(phi), libm::sin(phi));
            let half_len = rng.random_range(0.2..0.8) * w as f64;
            let half_width = rng.random_range(0.5..1.5);
            let depth = rng.random_range(4.0..12.0);
            for y in 0..h {
                for x in 0..w {
                    let (rx, ry) = (x as f64 + 0.5 - x0, y as f64 + 0.5 - y0);
                    let along = rx * dx + ry * dy;
                    let across = (rx * dy - ry * dx).abs();
                    if along.abs() < half_len && across < half_width + 1.0 {
                        let t = (half_width + 1.0 - across).clamp(0.0, 1.0);
                        background[y * w + x] -= depth * t;
                    }
                }
            }
        }
        // A bright strip along one edge (light leaking past the field stop).
        if rng.random::<f64>() < p.edge_strip_probability {
            let side = rng.random_range(0..4u32);
            let width = rng.random_range(3.0..10.0);
            let gain = rng.random_range(10.0..25.0);
            for y in 0..h {
                for x in 0..w {
                    let d = match side {
                        0 => x as f64,
                        1 => (w - 1 - x) as f64,
                        2 => y as f64,
                        _ => (h - 1 - y) as f64,
                    };
                    if d < width {
                        background[y * w + x] += gain * (1.0 - d / width);
                    }
                }
            }
        }
        ViewOptics {
            background,
            clean_background: clean,
        }
    }
}

/// The camera's column fixed pattern (grey levels added to each column's background): it belongs
/// to the camera, so it is the same for every view of a run seeded with `seed`.
pub fn column_pattern(p: &SimParams, seed: u64) -> Vec<f64> {
    let mut camera = ChaCha8Rng::seed_from_u64(seed);
    (0..p.width)
        .map(|_| p.column_sigma * normal(&mut camera))
        .collect()
}

/// Frame names: `f00012` for single frames, `v0003_z07` for plane 7 of view 3.
pub fn frame_name(view: usize, plane: usize, frames_per_view: usize) -> String {
    if frames_per_view == 1 {
        format!("f{view:05}")
    } else {
        format!("v{view:04}_z{plane:02}")
    }
}

/// The focal planes of a view: one plane uniform in the layer's middle for single frames, else
/// `k` planes `step` apart centred in the layer.
pub fn focal_planes(p: &SimParams, rng_seed: u64, view: u64, k: usize) -> Vec<f64> {
    if k == 1 {
        let mut rng = view_rng(rng_seed ^ 0x5eed_f0c5, view);
        vec![rng.random_range(4.0..p.layer_um - 4.0)]
    } else {
        let span = p.step_um * (k - 1) as f64;
        let top = ((p.layer_um - span) / 2.0).max(0.0);
        (0..k).map(|i| top + p.step_um * i as f64).collect()
    }
}

/// Formats one frame's grains as `grains.csv` rows.
pub fn grains_csv_rows(frame: &SimFrame) -> String {
    let mut out = String::new();
    for g in &frame.grains {
        out.push_str(&format!(
            "{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{},{}\n",
            frame.name,
            g.grain,
            g.x_px,
            g.y_px,
            g.x_um,
            g.y_um,
            g.z_um,
            g.dz_um,
            g.in_focus as u8,
            g.track,
            g.truth_px
        ));
    }
    out
}
