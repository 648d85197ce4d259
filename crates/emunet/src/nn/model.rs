//! The UNet(D, C) model description and its weights file (design.md §3): tensor names and PyTorch
//! layouts, metadata, loading with a refusal that names the problem, atomic saving, He init.

use crate::error::{Error, Result};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The `format` metadata value of files this version reads and writes.
pub const FORMAT: &str = "emunet-unet/1";
/// Depths and base channel counts accepted (a deeper net needs frames of at least 2^D pixels).
pub const MAX_DEPTH: usize = 8;
/// The largest base channel count C accepted.
pub const MAX_CHANNELS: usize = 512;

/// How a frame's pixel values become the network's one input channel (metadata `normalization`).
/// `p` is the pixel value scaled to [0, 1] (v / 255, or v / 65535 for 16-bit frames).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalization {
    /// design.md §2: `x = (p − mean(p)) / (std(p) + 1e-6)` over the frame. Its scale follows the
    /// frame's own spread, which changes with noise, fog density and vignetting.
    Zscore,
    /// `x = 255 · (p − median(p)) / 32`: grey levels about the frame's background (the median, as
    /// emulsion.md defines it) at a fixed scale, so a grain's darkening keeps the absolute scale
    /// the truth is defined in (20 grey levels of own darkening ↦ −0.625 whatever the noise).
    Median,
}

crate::choice!(Normalization {
    Zscore => "zscore",
    Median => "median",
});

/// Grey levels per input unit of [`Normalization::Median`].
pub const MEDIAN_SCALE_GL: f64 = 32.0;

impl Normalization {
    /// The metadata value.
    pub fn name(self) -> &'static str {
        crate::choice::Choice::name(self)
    }

    /// Parses the metadata value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "zscore" => Some(Normalization::Zscore),
            "median" => Some(Normalization::Median),
            _ => None,
        }
    }

    /// The input value of `p` (pixel value in [0, 1]) for a frame with these statistics (also in
    /// [0, 1] units): mean, population std and median.
    pub fn apply(self, p: f64, mean: f64, std: f64, median: f64) -> f64 {
        match self {
            Normalization::Zscore => (p - mean) / (std + 1e-6),
            Normalization::Median => (p - median) * (255.0 / MEDIAN_SCALE_GL),
        }
    }
}

/// The bytes of the shipped default model.
pub const SHIPPED_WEIGHTS: &[u8] = include_bytes!("../../weights/default.safetensors");

/// The rule new models are created with.
pub const DEFAULT_NORMALIZATION: Normalization = Normalization::Median;

/// A UNet(D, C) with its weights in file layout and its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// D: the number of down-sampling levels (1..=[`MAX_DEPTH`]).
    pub depth: usize,
    /// C: the channels of the first level, doubled at each level down.
    pub channels: usize,
    /// Decision threshold in (0, 1): a pixel is on when its probability is ≥ this.
    pub threshold: f32,
    /// Every metadata entry of the file, including the required keys.
    pub metadata: BTreeMap<String, String>,
    /// Tensor name → (shape, values), in file (PyTorch) layout.
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

/// Channels at level `l` of UNet(·, C).
pub fn level_channels(channels: usize, l: usize) -> usize {
    channels << l
}

/// Every tensor of UNet(depth, channels) with its shape, in forward order.
pub fn spec(depth: usize, channels: usize) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    let mut conv = |name: String, ci: usize, co: usize| {
        out.push((format!("{name}.weight"), vec![co, ci, 3, 3]));
        out.push((format!("{name}.bias"), vec![co]));
    };
    let mut ci = 1;
    for l in 0..depth {
        let c = level_channels(channels, l);
        conv(format!("enc{l}.conv1"), ci, c);
        conv(format!("enc{l}.conv2"), c, c);
        ci = c;
    }
    let cb = level_channels(channels, depth);
    conv("bottleneck.conv1".into(), ci, cb);
    conv("bottleneck.conv2".into(), cb, cb);
    for l in (0..depth).rev() {
        let c = level_channels(channels, l);
        conv(format!("dec{l}.conv1"), 2 * c, c);
        conv(format!("dec{l}.conv2"), c, c);
    }
    for l in (0..depth).rev() {
        let c = level_channels(channels, l);
        out.push((format!("dec{l}.up.weight"), vec![2 * c, c, 2, 2]));
        out.push((format!("dec{l}.up.bias"), vec![c]));
    }
    out.push(("head.weight".into(), vec![1, channels, 1, 1]));
    out.push(("head.bias".into(), vec![1]));
    out
}

/// Checks depth, channels and threshold.
pub fn check_shape(depth: usize, channels: usize, threshold: f32) -> Result<()> {
    if !(1..=MAX_DEPTH).contains(&depth) {
        return Err(Error::Model(format!(
            "depth {depth} is outside 1..={MAX_DEPTH}"
        )));
    }
    if !(1..=MAX_CHANNELS).contains(&channels) {
        return Err(Error::Model(format!(
            "base channels {channels} is outside 1..={MAX_CHANNELS}"
        )));
    }
    if !(threshold > 0.0 && threshold < 1.0) {
        return Err(Error::Model(format!(
            "threshold {threshold} is not in (0, 1)"
        )));
    }
    Ok(())
}

impl Model {
    /// A freshly initialised model: He-normal conv and up-conv weights (std √(2 / fan_in)), a
    /// head with std √(1 / C), zero biases; reproducible from `seed`.
    pub fn init_he(depth: usize, channels: usize, seed: u64) -> Result<Self> {
        check_shape(depth, channels, 0.5)?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut tensors = BTreeMap::new();
        for (name, shape) in spec(depth, channels) {
            let len: usize = shape.iter().product();
            let values = if name.ends_with(".bias") {
                vec![0.0; len]
            } else {
                let fan_in = if name.contains(".up.") {
                    shape[0] * 4
                } else {
                    shape[1] * shape[2] * shape[3]
                };
                let gain = if name.starts_with("head") { 1.0 } else { 2.0 };
                let normal = Normal::new(0.0f32, (gain / fan_in as f32).sqrt())
                    .map_err(|e| Error::Model(e.to_string()))?;
                (0..len).map(|_| normal.sample(&mut rng)).collect()
            };
            tensors.insert(name, (shape, values));
        }
        let mut metadata = BTreeMap::new();
        metadata.insert("format".into(), FORMAT.into());
        metadata.insert("depth".into(), depth.to_string());
        metadata.insert("base_channels".into(), channels.to_string());
        metadata.insert("normalization".into(), DEFAULT_NORMALIZATION.name().into());
        metadata.insert("threshold".into(), "0.5".into());
        metadata.insert("init".into(), format!("he-normal seed={seed}"));
        Ok(Model {
            depth,
            channels,
            threshold: 0.5,
            metadata,
            tensors,
        })
    }

    /// The values of tensor `name` (panics on an unknown name: names come from [`spec`]).
    pub fn tensor(&self, name: &str) -> &[f32] {
        &self
            .tensors
            .get(name)
            .unwrap_or_else(|| panic!("model has no tensor {name}"))
            .1
    }

    /// Mutable values of tensor `name`.
    pub fn tensor_mut(&mut self, name: &str) -> &mut Vec<f32> {
        &mut self
            .tensors
            .get_mut(name)
            .unwrap_or_else(|| panic!("model has no tensor {name}"))
            .1
    }

    /// The input normalisation rule (validated when the file was read; files written before the
    /// key had other values are z-scored, design.md §2).
    pub fn normalization(&self) -> Normalization {
        self.metadata
            .get("normalization")
            .and_then(|s| Normalization::parse(s))
            .unwrap_or(Normalization::Zscore)
    }

    /// Sets the input normalisation rule (kept in the metadata).
    pub fn set_normalization(&mut self, n: Normalization) {
        self.metadata
            .insert("normalization".into(), n.name().into());
    }

    /// The pixel size (µm) of the frames the model was trained at: the metadata's `pixel_um`
    /// (validated when the file was read), or [`crate::scale::DEFAULT_MODEL_PIXEL_UM`] for files
    /// without it (the shipped model's training frames).
    pub fn pixel_um(&self) -> f64 {
        self.metadata
            .get("pixel_um")
            .and_then(|s| s.parse().ok())
            .unwrap_or(crate::scale::DEFAULT_MODEL_PIXEL_UM)
    }

    /// Records the pixel size of the training frames (kept in the metadata).
    pub fn set_pixel_um(&mut self, um: f64) -> Result<()> {
        if !(um.is_finite() && um > 0.0) {
            return Err(Error::Shape(format!(
                "a pixel size must be a positive number of µm, not {um}"
            )));
        }
        self.metadata.insert("pixel_um".into(), um.to_string());
        Ok(())
    }

    /// Sets the decision threshold (kept in the metadata too).
    pub fn set_threshold(&mut self, threshold: f32) -> Result<()> {
        check_shape(self.depth, self.channels, threshold)?;
        self.threshold = threshold;
        self.metadata
            .insert("threshold".into(), threshold.to_string());
        Ok(())
    }

    /// Number of weights.
    pub fn parameter_count(&self) -> usize {
        self.tensors.values().map(|(_, v)| v.len()).sum()
    }

    /// The shipped default model (`crates/emunet/weights/default.safetensors`, built into the library; see
    /// `weights/README.md` for how it was trained and how well it does).
    pub fn shipped() -> Result<Self> {
        Self::from_bytes(SHIPPED_WEIGHTS).map_err(|message| Error::Weights {
            path: "weights/default.safetensors (built in)".into(),
            message,
        })
    }

    /// Reads and validates a weights file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|message| Error::Weights {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses and validates safetensors bytes; the error names the key or tensor at fault.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| format!("not a safetensors file ({e})"))?;
        let file = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| format!("not a safetensors file ({e})"))?;
        let metadata: BTreeMap<String, String> = header
            .metadata()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let get = |key: &str| {
            metadata
                .get(key)
                .ok_or_else(|| format!("metadata has no `{key}`"))
        };
        let format = get("format")?;
        if format != FORMAT {
            return Err(format!("unknown format `{format}` (expected `{FORMAT}`)"));
        }
        let depth: usize = get("depth")?.parse().map_err(|_| {
            format!(
                "metadata `depth` = {:?} is not an integer",
                metadata["depth"]
            )
        })?;
        let channels: usize = get("base_channels")?.parse().map_err(|_| {
            format!(
                "metadata `base_channels` = {:?} is not an integer",
                metadata["base_channels"]
            )
        })?;
        let normalization = get("normalization")?;
        if Normalization::parse(normalization).is_none() {
            return Err(format!(
                "unknown normalization `{normalization}` (this version knows `zscore` and `median`)"
            ));
        }
        let threshold: f32 = get("threshold")?.parse().map_err(|_| {
            format!(
                "metadata `threshold` = {:?} is not a number",
                metadata["threshold"]
            )
        })?;
        check_shape(depth, channels, threshold).map_err(|e| format!("metadata: {e}"))?;
        if let Some(um) = metadata.get("pixel_um") {
            match um.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => {}
                _ => {
                    return Err(format!(
                        "metadata `pixel_um` = {um:?} is not a positive number"
                    ));
                }
            }
        }

        let expected = spec(depth, channels);
        let expected_names: std::collections::BTreeSet<&str> =
            expected.iter().map(|(n, _)| n.as_str()).collect();
        let mut extra: Vec<String> = file
            .names()
            .into_iter()
            .filter(|n| !expected_names.contains(n))
            .map(String::from)
            .collect();
        if !extra.is_empty() {
            extra.sort();
            return Err(format!(
                "unexpected tensor(s) {} for UNet({depth}, {channels})",
                extra.join(", ")
            ));
        }
        let mut tensors = BTreeMap::new();
        for (name, shape) in expected {
            let view = file
                .tensor(&name)
                .map_err(|_| format!("missing tensor `{name}` (UNet({depth}, {channels}))"))?;
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(format!(
                    "tensor `{name}` has dtype {:?}, expected F32",
                    view.dtype()
                ));
            }
            if view.shape() != shape.as_slice() {
                return Err(format!(
                    "tensor `{name}` has shape {:?}, expected {shape:?}",
                    view.shape()
                ));
            }
            let values = finite_f32_values(&name, view.data())?;
            tensors.insert(name, (shape, values));
        }
        Ok(Model {
            depth,
            channels,
            threshold,
            metadata,
            tensors,
        })
    }

    /// The file bytes (safetensors, F32, metadata included).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(n, (s, v))| (n.clone(), s.clone(), bytemuck::cast_slice(v).to_vec()))
            .collect();
        let views = bytes
            .iter()
            .map(|(n, s, b)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .map(|v| (n.clone(), v))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Model(e.to_string()))?;
        let mut metadata: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        metadata.insert("format".into(), FORMAT.into());
        metadata.insert("depth".into(), self.depth.to_string());
        metadata.insert("base_channels".into(), self.channels.to_string());
        metadata.insert("threshold".into(), self.threshold.to_string());
        metadata
            .entry("normalization".into())
            .or_insert_with(|| "zscore".into());
        serialize_sorted(views, metadata)
    }

    /// Writes the weights file atomically (temporary file in the same folder, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }
}

/// The little-endian F32 values of tensor `name`'s bytes; an error names the first non-finite one.
pub(crate) fn finite_f32_values(name: &str, data: &[u8]) -> std::result::Result<Vec<f32>, String> {
    let values: Vec<f32> = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "tensor `{name}` holds a non-finite value ({}) at element {i}",
            values[i]
        ));
    }
    Ok(values)
}

/// safetensors bytes with the header's keys in sorted order: the crate writes its metadata map
/// in hash order, which differs from process to process, so the same model would give other
/// bytes on every save.
pub fn serialize_sorted<'a>(
    views: Vec<(String, safetensors::tensor::TensorView<'a>)>,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| Error::Model(e.to_string()))?;
    let corrupt = |what: &str| Error::Model(format!("safetensors wrote {what}"));
    let n = u64::from_le_bytes(bytes[..8].try_into().map_err(|_| corrupt("no header"))?) as usize;
    let header = bytes
        .get(8..8 + n)
        .ok_or_else(|| corrupt("a short header"))?;
    // serde_json's map is a BTreeMap: parsing and writing back sorts every object's keys.
    let value: serde_json::Value =
        serde_json::from_slice(header).map_err(|_| corrupt("a header that is not JSON"))?;
    let mut sorted = serde_json::to_vec(&value).map_err(|e| Error::Model(e.to_string()))?;
    // The format pads the header with spaces to a multiple of 8 bytes.
    sorted.resize(sorted.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + sorted.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
    out.extend_from_slice(&sorted);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

/// Removes what a killed process's [`write_atomic`] calls left in `dir`: its temporary files
/// (`.tmp` and 6 characters, tempfile's names). Runs that resume call it first.
pub fn remove_stale_temporaries(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.len() == 10 && name.starts_with(".tmp") && entry.path().is_file() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees a half-written file and an interrupted write loses nothing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    // The file's own error: tempfile's would append the temporary name.
    tmp.as_file_mut()
        .write_all(bytes)
        .map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}
