//! The extension module `emunet._emunet`: a thin layer over the core's `Unet`, classical
//! pipeline and simulator for numpy callers. The `emunet` package (`python/emunet`) wraps what
//! it returns (tuples of arrays, cluster records as bytes) into `Result` objects and structured
//! arrays; the model logic stays in the core.
//!
//! The GIL is released while the GPU and the cluster stage work, so other Python threads run.

use emunet_core::clusters::Cluster;
use emunet_core::kernels::{Precision, ProbFormat};
use emunet_core::{Context, Error, Frame, Model, Unet};
use emunet_tools::classic::{ClassicParams, ThresholdRule};
use emunet_tools::formats::TableFormat;
use emunet_tools::simulate::{GrainRecord, Preset, SimParams, View, focal_planes, frame_name};
use numpy::ndarray::{Array2, Array3, ArrayView2};
use numpy::{
    Element, IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The numpy fields of one cluster record, in the clusters CSV's column order (design.md).
const CLUSTER_FIELDS: [(&str, &str); 17] = [
    ("id", "i8"),
    ("x", "f8"),
    ("y", "f8"),
    ("area", "i8"),
    ("volume", "f8"),
    ("cog_x", "f8"),
    ("cog_y", "f8"),
    ("peak", "f8"),
    ("peak_x", "f8"),
    ("peak_y", "f8"),
    ("x0", "i8"),
    ("y0", "i8"),
    ("x1", "i8"),
    ("y1", "i8"),
    ("mxx", "f8"),
    ("mxy", "f8"),
    ("myy", "f8"),
];

/// The numpy fields of one simulated grain record: `grains.csv`'s columns, with the frame's
/// index in the returned stack instead of its name.
const GRAIN_FIELDS: [(&str, &str); 11] = [
    ("frame", "i8"),
    ("grain", "i8"),
    ("x_px", "f8"),
    ("y_px", "f8"),
    ("x_um", "f8"),
    ("y_um", "f8"),
    ("z_um", "f8"),
    ("dz_um", "f8"),
    ("in_focus", "?"),
    ("track", "i8"),
    ("truth_px", "i8"),
];

/// Packs records field by field in native byte order (numpy's packed dtype of the fields above).
#[derive(Default)]
struct Packer(Vec<u8>);

impl Packer {
    fn i(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn f(&mut self, v: f64) -> &mut Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn b(&mut self, v: bool) -> &mut Self {
        self.0.push(v as u8);
        self
    }
}

fn pack_clusters(found: &[Cluster]) -> Vec<u8> {
    let mut p = Packer(Vec::with_capacity(found.len() * 136));
    for c in found {
        p.i(c.id as i64)
            .f(c.x)
            .f(c.y)
            .i(c.area as i64)
            .f(c.volume)
            .f(c.cog_x)
            .f(c.cog_y)
            .f(c.peak)
            .f(c.peak_x)
            .f(c.peak_y)
            .i(c.x0 as i64)
            .i(c.y0 as i64)
            .i(c.x1 as i64)
            .i(c.y1 as i64)
            .f(c.mxx)
            .f(c.mxy)
            .f(c.myy);
    }
    p.0
}

fn pack_grain(p: &mut Packer, frame: usize, g: &GrainRecord) {
    p.i(frame as i64)
        .i(g.grain as i64)
        .f(g.x_px)
        .f(g.y_px)
        .f(g.x_um)
        .f(g.y_um)
        .f(g.z_um)
        .f(g.dz_um)
        .b(g.in_focus)
        .i(g.track as i64)
        .i(g.truth_px as i64);
}

pyo3::create_exception!(
    _emunet,
    DeviceLostError,
    PyRuntimeError,
    "The GPU device was lost or hung past EMUNET_GPU_TIMEOUT seconds: the engine is unusable, \
     make a new one."
);

/// A core error as the Python exception a caller expects: `RuntimeError` for the GPU (its
/// subclass `DeviceLostError` when the device is gone),
/// `FileNotFoundError`/`OSError` for files, `ValueError` for bad input (frames, weights, sizes).
fn to_py(e: Error) -> PyErr {
    let message = e.to_string();
    match &e {
        Error::DeviceLost(_) => DeviceLostError::new_err(message),
        Error::NoAdapter(_) | Error::Device(_) | Error::Gpu { .. } => {
            PyRuntimeError::new_err(message)
        }
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(message)
        }
        Error::Io { .. } => PyOSError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// A copy of a 2-D array's pixels in row-major order, whatever its strides.
fn rows_of<T: Element + Copy>(a: ArrayView2<T>) -> (usize, usize, Vec<T>) {
    let (h, w) = a.dim();
    let data = match a.as_slice() {
        Some(s) => s.to_vec(),
        None => a.iter().copied().collect(),
    };
    (w, h, data)
}

/// A frame from a 2-D uint8 or uint16 array (any strides), copied.
fn frame_of(frame: &Bound<'_, PyAny>) -> PyResult<Frame> {
    let (w, h, result) = if let Ok(a) = frame.extract::<PyReadonlyArray2<'_, u8>>() {
        let (w, h, data) = rows_of(a.as_array());
        (w, h, (w > 0 && h > 0).then(|| Frame::from_u8(w, h, data)))
    } else if let Ok(a) = frame.extract::<PyReadonlyArray2<'_, u16>>() {
        let (w, h, data) = rows_of(a.as_array());
        (w, h, (w > 0 && h > 0).then(|| Frame::from_u16(w, h, data)))
    } else {
        let what = match frame.cast::<PyUntypedArray>() {
            Ok(a) => format!("a {}-D array of dtype {}", a.ndim(), a.dtype()),
            Err(_) => format!("a {}", frame.get_type().name()?),
        };
        return Err(PyValueError::new_err(format!(
            "a frame must be a 2-D numpy array of dtype uint8 or uint16 (height × width), \
             got {what}"
        )));
    };
    match result {
        Some(frame) => frame.map_err(to_py),
        None => Err(PyValueError::new_err(format!(
            "the frame is empty ({h} × {w} pixels)"
        ))),
    }
}

/// What every call returns: probabilities (or the classical filter response), the mask, the
/// packed cluster records, the threshold and the seconds the core worked (GPU and clusters).
type Raw<'py> = (
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray2<bool>>,
    Bound<'py, PyArray1<u8>>,
    f32,
    f64,
);

fn raw<'py>(
    py: Python<'py>,
    (w, h): (usize, usize),
    values: Vec<f32>,
    mask: Vec<bool>,
    found: &[Cluster],
    threshold: f32,
    seconds: f64,
) -> PyResult<Raw<'py>> {
    let shape_error = |e: numpy::ndarray::ShapeError| PyRuntimeError::new_err(e.to_string());
    Ok((
        Array2::from_shape_vec((h, w), values)
            .map_err(shape_error)?
            .into_pyarray(py),
        Array2::from_shape_vec((h, w), mask)
            .map_err(shape_error)?
            .into_pyarray(py),
        pack_clusters(found).into_pyarray(py),
        threshold,
        seconds,
    ))
}

/// The network on one GPU device, its buffers planned for the last frame size. Calls on one
/// engine from several threads take turns.
#[pyclass(module = "emunet._emunet")]
struct Engine {
    unet: Mutex<Unet>,
    adapter: String,
    backend: String,
}

/// How many frames of one size go through one GPU submit.
const BATCH: usize = 8;

impl Engine {
    /// Segments frames of one size in batches; per frame the segmentation, its clusters and the
    /// core's seconds (the batch's, shared out).
    fn run(
        &self,
        frames: &[Frame],
    ) -> Result<Vec<(emunet_core::Segmentation, Vec<Cluster>, f64)>, Error> {
        // A panic on another thread poisons the lock; the engine itself is still whole.
        let mut unet = self.unet.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(BATCH) {
            let start = Instant::now();
            let segs = if chunk.len() == 1 {
                vec![unet.segment(&chunk[0])?]
            } else {
                unet.segment_batch(chunk)?
            };
            let found: Vec<Vec<Cluster>> = segs
                .iter()
                .zip(chunk)
                .map(|(s, f)| s.cluster_list(f))
                .collect();
            let seconds = start.elapsed().as_secs_f64() / chunk.len() as f64;
            out.extend(segs.into_iter().zip(found).map(|(s, c)| (s, c, seconds)));
        }
        Ok(out)
    }
}

fn raw_of<'py>(
    py: Python<'py>,
    (seg, found, seconds): (emunet_core::Segmentation, Vec<Cluster>, f64),
) -> PyResult<Raw<'py>> {
    let t = seg.threshold;
    let mask = seg.mask().iter().map(|&m| m != 0).collect();
    raw(
        py,
        (seg.width, seg.height),
        seg.prob,
        mask,
        &found,
        t,
        seconds,
    )
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (weights=None, precision="auto", prob_format="f32", pixel_um=None, border=0))]
    fn new(
        py: Python<'_>,
        weights: Option<PathBuf>,
        precision: &str,
        prob_format: &str,
        pixel_um: Option<f64>,
        border: usize,
    ) -> PyResult<Self> {
        let prob_format = match prob_format {
            "f32" => ProbFormat::F32,
            "f16" => ProbFormat::F16,
            "u8" => ProbFormat::U8,
            other => {
                return Err(PyValueError::new_err(format!(
                    "prob_format {other:?}: expected \"f32\", \"f16\" or \"u8\""
                )));
            }
        };
        let precision = match precision {
            "auto" => None,
            "f32" => Some(Precision::F32),
            "f16" => Some(Precision::F16),
            other => {
                return Err(PyValueError::new_err(format!(
                    "precision {other:?}: expected \"auto\", \"f32\" or \"f16\""
                )));
            }
        };
        py.detach(|| {
            let model = match &weights {
                Some(path) => Model::load(path)?,
                None => Model::shipped()?,
            };
            let ctx = Arc::new(Context::new()?);
            let mut unet = Unet::new(ctx.clone(), &model)?;
            unet.set_precision(precision);
            unet.set_prob_format(prob_format);
            unet.set_pixel_um(pixel_um)?;
            unet.set_border(border);
            Ok(Engine {
                unet: Mutex::new(unet),
                adapter: ctx.info.name.clone(),
                backend: format!("{:?}", ctx.info.backend),
            })
        })
        .map_err(to_py)
    }

    /// The GPU adapter's name.
    #[getter]
    fn adapter(&self) -> &str {
        &self.adapter
    }

    /// The graphics API the adapter runs on (Vulkan, Metal, Dx12).
    #[getter]
    fn backend(&self) -> &str {
        &self.backend
    }

    /// The probability cut of the mask (the model's).
    #[getter]
    fn threshold(&self) -> f32 {
        self.unet
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .threshold
    }

    fn segment<'py>(&self, py: Python<'py>, frame: &Bound<'py, PyAny>) -> PyResult<Raw<'py>> {
        let frame = frame_of(frame)?;
        let mut done = py
            .detach(|| self.run(std::slice::from_ref(&frame)))
            .map_err(to_py)?;
        let one = done
            .pop()
            .ok_or_else(|| PyRuntimeError::new_err("no result"))?;
        raw_of(py, one)
    }

    fn segment_batch<'py>(
        &self,
        py: Python<'py>,
        frames: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<Vec<Raw<'py>>> {
        let frames = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                frame_of(f)
                    .map_err(|e| PyValueError::new_err(format!("frame {i}: {}", e.value(py))))
            })
            .collect::<PyResult<Vec<Frame>>>()?;
        let mut results = Vec::with_capacity(frames.len());
        // Runs of frames of one size and bit depth share a batch plan.
        let mut start = 0;
        while start < frames.len() {
            let key = |f: &Frame| (f.width, f.height, f.bits());
            let end = frames[start..]
                .iter()
                .position(|f| key(f) != key(&frames[start]))
                .map_or(frames.len(), |n| start + n);
            let run = &frames[start..end];
            let done = py.detach(|| self.run(run)).map_err(to_py)?;
            for one in done {
                results.push(raw_of(py, one)?);
            }
            start = end;
        }
        Ok(results)
    }

    /// Segments the frames (each with its index in the whole job's frame list) and writes
    /// their clusters as one table (format "parquet" or "root") at `table`, atomically. Frames
    /// that cannot be read or segmented are left out and listed in the summary; a device fault
    /// raises. Returns the summary: frames, done, clusters, failed [(path, reason)], seconds.
    fn segment_part<'py>(
        &self,
        py: Python<'py>,
        frames: Vec<(usize, PathBuf)>,
        table: PathBuf,
        format: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let format = match format {
            "parquet" => TableFormat::Parquet,
            "root" => TableFormat::Root,
            other => {
                return Err(PyValueError::new_err(format!(
                    "format {other:?}: expected \"parquet\" or \"root\""
                )));
            }
        };
        let summary = py
            .detach(|| {
                let mut unet = self.unet.lock().unwrap_or_else(|p| p.into_inner());
                emunet_tools::formats::parts::segment_part(&mut unet, &frames, &table, format)
            })
            .map_err(to_py)?;
        let out = PyDict::new(py);
        out.set_item("frames", summary.frames)?;
        out.set_item("done", summary.done)?;
        out.set_item("clusters", summary.clusters)?;
        out.set_item("failed", summary.failed)?;
        out.set_item("seconds", summary.seconds)?;
        Ok(out)
    }
}

/// The classical pipeline (the CPU reference of `emunet classic`): FEDRA's filter, a fixed
/// threshold or one tuned to a target cluster count, the area cuts. The first array is the
/// filter response.
#[pyfunction]
#[pyo3(signature = (frame, threshold=None, target_clusters=None))]
fn classic<'py>(
    py: Python<'py>,
    frame: &Bound<'py, PyAny>,
    threshold: Option<f32>,
    target_clusters: Option<usize>,
) -> PyResult<Raw<'py>> {
    let frame = frame_of(frame)?;
    let rule = match (threshold, target_clusters) {
        (Some(_), Some(_)) => {
            return Err(PyValueError::new_err(
                "give threshold or target_clusters, not both",
            ));
        }
        (Some(t), None) if t.is_finite() => ThresholdRule::Fixed(t),
        (Some(t), None) => {
            return Err(PyValueError::new_err(format!(
                "threshold {t} is not a finite number"
            )));
        }
        (None, Some(0)) => {
            return Err(PyValueError::new_err("target_clusters must be at least 1"));
        }
        (None, Some(n)) => ThresholdRule::TargetClusters(n),
        (None, None) => ClassicParams::default().threshold,
    };
    let params = ClassicParams {
        threshold: rule,
        ..ClassicParams::default()
    };
    let r = py.detach(|| emunet_tools::classic::reference::run(&frame, &params));
    let mask = r.mask.iter().map(|&m| m != 0).collect();
    raw(
        py,
        (r.width, r.height),
        r.response,
        mask,
        &r.clusters,
        r.threshold,
        r.elapsed.as_secs_f64(),
    )
}

/// Simulated frames with their exact truth, as `emunet simulate` writes them: the frames
/// (N × H × W uint8), the truth masks (N × H × W bool) and the grains of every frame (packed
/// records of `GRAIN_FIELDS`).
type Simulated<'py> = (
    Bound<'py, PyArray3<u8>>,
    Bound<'py, PyArray3<bool>>,
    Bound<'py, PyArray1<u8>>,
);

#[pyfunction]
#[pyo3(signature = (count=1, seed=1, preset="nominal", width=None, height=None, frames_per_view=1, pixel_um=None))]
#[allow(clippy::too_many_arguments)]
fn simulate<'py>(
    py: Python<'py>,
    count: usize,
    seed: u64,
    preset: &str,
    width: Option<usize>,
    height: Option<usize>,
    frames_per_view: usize,
    pixel_um: Option<f64>,
) -> PyResult<Simulated<'py>> {
    let preset = <Preset as emunet_core::Choice>::from_name(preset).ok_or_else(|| {
        PyValueError::new_err(format!(
            "preset {preset:?}: expected \"easy\", \"nominal\", \"hard\" or \"mixed\""
        ))
    })?;
    if count == 0 || frames_per_view == 0 {
        return Err(PyValueError::new_err(
            "count and frames_per_view must be at least 1",
        ));
    }
    let mut params = SimParams::preset(preset);
    params.width = width.unwrap_or(params.width);
    params.height = height.unwrap_or(params.height);
    if let Some(um) = pixel_um {
        params.pixel_um = um;
        params.pixel_um_fixed = true;
    }
    params.check().map_err(to_py)?;
    let (w, h, n) = (params.width, params.height, count * frames_per_view);
    let (images, truth, grains) = py
        .detach(|| -> Result<_, Error> {
            let mut images = Vec::with_capacity(n * w * h);
            let mut truth = Vec::with_capacity(n * w * h);
            let mut grains = Packer::default();
            for view in 0..count {
                let mut v = View::new(&params, seed, view as u64)?;
                let planes = focal_planes(&params, seed, view as u64, frames_per_view);
                for (plane, z) in planes.into_iter().enumerate() {
                    let name = frame_name(view, plane, frames_per_view);
                    let f = v.render(name, z);
                    images.extend((0..f.image.len()).map(|i| f.image.value(i) as u8));
                    truth.extend(f.truth.iter().map(|&t| t != 0));
                    for g in &f.grains {
                        pack_grain(&mut grains, view * frames_per_view + plane, g);
                    }
                }
            }
            Ok((images, truth, grains.0))
        })
        .map_err(to_py)?;
    let shape_error = |e: numpy::ndarray::ShapeError| PyRuntimeError::new_err(e.to_string());
    Ok((
        Array3::from_shape_vec((n, h, w), images)
            .map_err(shape_error)?
            .into_pyarray(py),
        Array3::from_shape_vec((n, h, w), truth)
            .map_err(shape_error)?
            .into_pyarray(py),
        grains.into_pyarray(py),
    ))
}

#[pymodule]
fn _emunet(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add("DeviceLostError", m.py().get_type::<DeviceLostError>())?;
    m.add_function(wrap_pyfunction!(classic, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add("CLUSTER_FIELDS", CLUSTER_FIELDS.to_vec())?;
    m.add("GRAIN_FIELDS", GRAIN_FIELDS.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
