//! The C ABI of emunet (`bindings/c/include/emunet.h`, generated from this file by cbindgen): a
//! thin layer over the core's `Unet` and the cluster list `emunet segment` writes, so a C caller
//! gets exactly the CLI's clusters.
//!
//! Every entry point returns an `EMUNET_*` code (0 = ok, negative = error) and catches panics, so
//! none crosses the boundary; the message of the last failing call on a thread is
//! `emunet_last_error()`. Thread safety: an engine serves one thread at a time (calls on one
//! engine must not overlap); engines on different threads are independent.

#![allow(non_camel_case_types)] // the C names are the contract

use emunet_core::{Context, Error, Frame, Model, Unet};
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Success.
pub const EMUNET_OK: c_int = 0;
/// A NULL pointer where one is required, a zero size, a stride shorter than a row, or a frame
/// the network cannot take.
pub const EMUNET_ERR_INVALID_ARGUMENT: c_int = -1;
/// The weights file is missing or not a valid emunet weights file.
pub const EMUNET_ERR_BAD_WEIGHTS: c_int = -2;
/// No GPU adapter (install a Vulkan driver, or Mesa's software one).
pub const EMUNET_ERR_NO_ADAPTER: c_int = -3;
/// More clusters than `capacity`: `*n_clusters` holds the number needed; nothing was copied (not
/// the clusters, the mask or the probabilities): call again with room for them.
pub const EMUNET_ERR_CAPACITY: c_int = -4;
/// The GPU failed on this call (validation, out of memory); the engine stays usable.
pub const EMUNET_ERR_GPU: c_int = -5;
/// A bug in emunet (a caught panic); the message says where.
pub const EMUNET_ERR_INTERNAL: c_int = -6;
/// `emunet_submit_*` with the engine's ring of frames in flight full: poll one first.
pub const EMUNET_ERR_BUSY: c_int = -7;
/// The GPU device was lost (driver reset, device removed) or hung past `EMUNET_GPU_TIMEOUT`
/// seconds: every later call on this engine fails the same way; destroy it and create a new one.
pub const EMUNET_ERR_DEVICE_LOST: c_int = -8;
/// `emunet_poll`: no result yet (the oldest frame is still on the GPU, or none is in flight).
pub const EMUNET_NOT_READY: c_int = 1;

/// `emunet_set_prob_format`: probabilities read back as f32 (the default).
pub const EMUNET_PROB_F32: c_int = 0;
/// `emunet_set_prob_format`: as IEEE half precision, |Δp| ≤ 2⁻¹² (half the readback).
pub const EMUNET_PROB_F16: c_int = 1;
/// `emunet_set_prob_format`: as round(255·p), |Δp| ≤ 1/510 (a quarter of the readback).
pub const EMUNET_PROB_U8: c_int = 2;

/// One cluster: the fields of the clusters CSV (`id` is its index in the array). Positions in
/// pixels with pixel (i, j) centred at (i + 0.5, j + 0.5); x0, y0 inclusive and x1, y1 exclusive
/// pixel indices; m** central second moments (px²).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct emunet_cluster {
    /// Centroid.
    pub x: f64,
    pub y: f64,
    /// Sub-pixel position (the CSV's cog_x, cog_y).
    pub cog_x: f64,
    pub cog_y: f64,
    pub area: u32,
    /// Σ darkness max(0, median − p) over the cluster.
    pub volume: f64,
    /// Largest darkness and its pixel's centre.
    pub peak: f64,
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
    pub mxx: f64,
    pub mxy: f64,
    pub myy: f64,
    pub peak_x: f64,
    pub peak_y: f64,
}

/// An engine: the model on one GPU device, its buffers planned for the last frame size.
pub struct emunet_engine {
    unet: Unet,
    /// Streamed frames in submission order (their clusters are measured on them at poll time).
    submitted: std::collections::VecDeque<Frame>,
    /// A polled result that did not fit the caller's capacity: handed out by the next poll.
    ready: Option<Ready>,
    /// `emunet_last_elapsed`.
    last_elapsed: f64,
}

/// One streamed frame's result waiting for `emunet_poll`.
struct Ready {
    ticket: u64,
    seg: emunet_core::Segmentation,
    clusters: Vec<emunet_core::clusters::Cluster>,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

/// The code of a core error.
fn code_of(e: &Error) -> c_int {
    match e {
        Error::NoAdapter(_) | Error::Device(_) => EMUNET_ERR_NO_ADAPTER,
        Error::Weights { .. } | Error::Model(_) => EMUNET_ERR_BAD_WEIGHTS,
        Error::Gpu { .. } => EMUNET_ERR_GPU,
        Error::DeviceLost(_) => EMUNET_ERR_DEVICE_LOST,
        Error::InFlight(_) => EMUNET_ERR_BUSY,
        _ => EMUNET_ERR_INVALID_ARGUMENT,
    }
}

/// Runs `body`, turning its error or a panic into a code and the thread's last error.
fn guarded(body: impl FnOnce() -> Result<(), (c_int, String)>) -> c_int {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => EMUNET_OK,
        Ok(Err((code, message))) => {
            set_last_error(&message);
            code
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal error (please report): {what}"));
            EMUNET_ERR_INTERNAL
        }
    }
}

fn invalid(message: &str) -> (c_int, String) {
    (EMUNET_ERR_INVALID_ARGUMENT, message.to_string())
}

fn core(e: Error) -> (c_int, String) {
    (code_of(&e), e.to_string())
}

/// Creates an engine on the best GPU adapter with the weights file at `weights_path` (a
/// NUL-terminated path), or the shipped default model when `weights_path` is NULL. On success
/// `*out` holds the engine (free it with `emunet_engine_free`); on failure `*out` is NULL.
///
/// # Safety
/// `weights_path` is NULL or a NUL-terminated string; `out` points to writable storage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn emunet_engine_new(
    weights_path: *const c_char,
    out: *mut *mut emunet_engine,
) -> c_int {
    guarded(|| {
        if out.is_null() {
            return Err(invalid("emunet_engine_new: out is NULL"));
        }
        // SAFETY: `out` is non-NULL and writable (the caller's contract).
        unsafe { *out = std::ptr::null_mut() };
        let model = if weights_path.is_null() {
            Model::shipped().map_err(core)?
        } else {
            // SAFETY: a NUL-terminated string (the caller's contract).
            let path = unsafe { CStr::from_ptr(weights_path) };
            let path = path
                .to_str()
                .map_err(|_| invalid("emunet_engine_new: weights_path is not UTF-8"))?;
            // Any failure to read the file (missing, unreadable, not a weights file) is bad weights.
            Model::load(std::path::Path::new(path))
                .map_err(|e| (EMUNET_ERR_BAD_WEIGHTS, e.to_string()))?
        };
        let ctx = Arc::new(Context::new().map_err(core)?);
        let mut unet = Unet::new(ctx, &model).map_err(core)?;
        // The CLI's defaults, so a C caller gets `emunet segment`'s clusters: auto precision.
        unet.set_precision(None);
        let engine = Box::new(emunet_engine {
            unet,
            submitted: Default::default(),
            ready: None,
            last_elapsed: 0.0,
        });
        // SAFETY: as above.
        unsafe { *out = Box::into_raw(engine) };
        Ok(())
    })
}

/// Frees an engine made by `emunet_engine_new` (NULL is fine).
///
/// # Safety
/// `e` is NULL or an engine from `emunet_engine_new` not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn emunet_engine_free(e: *mut emunet_engine) {
    if !e.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: an engine from emunet_engine_new, freed once (the caller's contract).
            drop(unsafe { Box::from_raw(e) });
        }));
    }
}

/// The message of the last failing call on this thread ("" if none); valid until the next
/// failing call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn emunet_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// emunet's version, e.g. "0.1.0".
#[unsafe(no_mangle)]
pub extern "C" fn emunet_version() -> *const c_char {
    static VERSION: &CStr = c"0.1.0";
    VERSION.as_ptr()
}

/// A frame from the caller's rows of `row_stride_bytes` bytes (checked, copied).
///
/// # Safety
/// `pixels` is NULL or holds `height` rows of `row_stride_bytes` bytes.
unsafe fn frame_from<T: Copy>(
    pixels: *const T,
    width: u32,
    height: u32,
    row_stride_bytes: usize,
    make: fn(usize, usize, Vec<T>) -> emunet_core::Result<Frame>,
) -> Result<Frame, (c_int, String)> {
    let (w, h) = (width as usize, height as usize);
    let px = std::mem::size_of::<T>();
    if pixels.is_null() {
        return Err(invalid("pixels is NULL"));
    }
    if w == 0 || h == 0 {
        return Err(invalid("width and height must be > 0"));
    }
    if row_stride_bytes < w * px || !row_stride_bytes.is_multiple_of(px) {
        return Err(invalid(&format!(
            "row_stride_bytes {row_stride_bytes} is shorter than a row ({} bytes) or not a \
             multiple of the pixel size",
            w * px
        )));
    }
    let stride = row_stride_bytes / px;
    // SAFETY: pixels holds `height` rows of `row_stride_bytes` bytes (the caller's contract).
    let rows = unsafe { std::slice::from_raw_parts(pixels, (h - 1) * stride + w) };
    let mut data = Vec::with_capacity(w * h);
    for y in 0..h {
        data.extend_from_slice(&rows[y * stride..y * stride + w]);
    }
    make(w, h, data).map_err(core)
}

/// Copies a result to the caller's outputs; `EMUNET_ERR_CAPACITY` (with `*n_clusters` the count
/// needed, nothing copied) when `capacity` is too small.
///
/// # Safety
/// As `emunet_segment_u8`'s outputs; `n_clusters` is non-NULL.
unsafe fn deliver(
    seg: &emunet_core::Segmentation,
    found: &[emunet_core::clusters::Cluster],
    mask_out: *mut u8,
    prob_out: *mut f32,
    clusters: *mut emunet_cluster,
    capacity: usize,
    n_clusters: *mut usize,
) -> Result<(), (c_int, String)> {
    // SAFETY: n_clusters is non-NULL and writable (checked by the callers).
    unsafe { *n_clusters = found.len() };
    if found.len() > capacity {
        return Err((
            EMUNET_ERR_CAPACITY,
            format!("{} clusters, capacity {capacity}", found.len()),
        ));
    }
    let pixels = seg.width * seg.height;
    if !mask_out.is_null() {
        let mask = seg.mask();
        // SAFETY: mask_out holds width·height bytes (the caller's contract).
        unsafe { std::ptr::copy_nonoverlapping(mask.as_ptr(), mask_out, pixels) };
    }
    if !prob_out.is_null() {
        // SAFETY: prob_out holds width·height floats (the caller's contract).
        unsafe { std::ptr::copy_nonoverlapping(seg.prob.as_ptr(), prob_out, pixels) };
    }
    for (i, c) in found.iter().enumerate() {
        let out = emunet_cluster {
            x: c.x,
            y: c.y,
            cog_x: c.cog_x,
            cog_y: c.cog_y,
            area: c.area as u32,
            volume: c.volume,
            peak: c.peak,
            x0: c.x0 as u32,
            y0: c.y0 as u32,
            x1: c.x1 as u32,
            y1: c.y1 as u32,
            mxx: c.mxx,
            mxy: c.mxy,
            myy: c.myy,
            peak_x: c.peak_x,
            peak_y: c.peak_y,
        };
        // SAFETY: clusters holds `capacity` ≥ found.len() elements.
        unsafe { clusters.add(i).write(out) };
    }
    Ok(())
}

/// The checks every call with outputs makes.
fn check_outputs(
    e: *mut emunet_engine,
    clusters: *mut emunet_cluster,
    capacity: usize,
    n_clusters: *mut usize,
) -> Result<(), (c_int, String)> {
    if e.is_null() || n_clusters.is_null() {
        return Err(invalid("engine or n_clusters is NULL"));
    }
    if capacity > 0 && clusters.is_null() {
        return Err(invalid("clusters is NULL with capacity > 0"));
    }
    Ok(())
}

/// The shared body of the two segment calls.
///
/// # Safety
/// As `emunet_segment_u8`.
#[allow(clippy::too_many_arguments)]
unsafe fn segment<T: Copy>(
    e: *mut emunet_engine,
    pixels: *const T,
    width: u32,
    height: u32,
    row_stride_bytes: usize,
    mask_out: *mut u8,
    prob_out: *mut f32,
    clusters: *mut emunet_cluster,
    capacity: usize,
    n_clusters: *mut usize,
    make: fn(usize, usize, Vec<T>) -> emunet_core::Result<Frame>,
) -> c_int {
    guarded(|| {
        check_outputs(e, clusters, capacity, n_clusters)?;
        // SAFETY: forwarded contract.
        let frame = unsafe { frame_from(pixels, width, height, row_stride_bytes, make)? };
        // SAFETY: e is an engine from emunet_engine_new used by one thread at a time.
        let engine = unsafe { &mut *e };
        let start = std::time::Instant::now();
        let seg = engine.unet.segment(&frame).map_err(core)?;
        let found = seg.cluster_list(&frame);
        engine.last_elapsed = start.elapsed().as_secs_f64();
        // SAFETY: forwarded contract.
        unsafe {
            deliver(
                &seg, &found, mask_out, prob_out, clusters, capacity, n_clusters,
            )
        }
    })
}

/// The shared body of the two submit calls.
///
/// # Safety
/// As `emunet_submit_u8`.
unsafe fn submit<T: Copy>(
    e: *mut emunet_engine,
    pixels: *const T,
    width: u32,
    height: u32,
    row_stride_bytes: usize,
    ticket: *mut u64,
    make: fn(usize, usize, Vec<T>) -> emunet_core::Result<Frame>,
) -> c_int {
    guarded(|| {
        if e.is_null() {
            return Err(invalid("engine is NULL"));
        }
        // SAFETY: forwarded contract.
        let frame = unsafe { frame_from(pixels, width, height, row_stride_bytes, make)? };
        // SAFETY: e is an engine from emunet_engine_new used by one thread at a time.
        let engine = unsafe { &mut *e };
        let t = engine.unet.submit(&frame).map_err(core)?;
        engine.submitted.push_back(frame);
        if !ticket.is_null() {
            // SAFETY: ticket is NULL or writable.
            unsafe { *ticket = t };
        }
        Ok(())
    })
}

/// Segments an 8-bit frame: `height` rows of `width` pixels, row y starting
/// `y · row_stride_bytes` bytes after `pixels`. Writes the mask (0/255) to `mask_out` and the
/// probabilities to `prob_out` when they are not NULL (each `width · height` elements, row-major),
/// and the clusters `emunet segment` writes (split at separate grains, sub-pixel positions) to
/// `clusters` (up to `capacity`); `*n_clusters` is their number. With more clusters than
/// `capacity` it returns `EMUNET_ERR_CAPACITY` and `*n_clusters` says how many are needed.
///
/// # Safety
/// `e` is an engine used by one thread at a time; `pixels` holds the rows described; `mask_out`,
/// `prob_out` are NULL or hold `width · height` elements; `clusters` is NULL (with capacity 0) or
/// holds `capacity` elements; `n_clusters` is writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn emunet_segment_u8(
    e: *mut emunet_engine,
    pixels: *const u8,
    width: u32,
    height: u32,
    row_stride_bytes: usize,
    mask_out: *mut u8,
    prob_out: *mut f32,
    clusters: *mut emunet_cluster,
    capacity: usize,
    n_clusters: *mut usize,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        segment(
            e,
            pixels,
            width,
            height,
            row_stride_bytes,
            mask_out,
            prob_out,
            clusters,
            capacity,
            n_clusters,
            Frame::from_u8,
        )
    }
}

/// `emunet_segment_u8` for a 16-bit frame (`row_stride_bytes` in bytes, a multiple of 2).
///
/// # Safety
/// As `emunet_segment_u8`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn emunet_segment_u16(
    e: *mut emunet_engine,
    pixels: *const u16,
    width: u32,
    height: u32,
    row_stride_bytes: usize,
    mask_out: *mut u8,
    prob_out: *mut f32,
    clusters: *mut emunet_cluster,
    capacity: usize,
    n_clusters: *mut usize,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        segment(
            e,
            pixels,
            width,
            height,
            row_stride_bytes,
            mask_out,
            prob_out,
            clusters,
            capacity,
            n_clusters,
            Frame::from_u16,
        )
    }
}

/// Streaming, for camera loops: starts an 8-bit frame on the GPU and returns at once (the rows are
/// copied, the caller may reuse `pixels`). `*ticket` (when not NULL) numbers the frame 0, 1, 2, …
/// in submission order; `emunet_poll` returns results in that order. Up to
/// `emunet_max_in_flight()` frames may wait; one more returns `EMUNET_ERR_BUSY`.
///
/// # Safety
/// `e` is an engine used by one thread at a time; `pixels` holds the rows described; `ticket` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn emunet_submit_u8(
    e: *mut emunet_engine,
    pixels: *const u8,
    width: u32,
    height: u32,
    row_stride_bytes: usize,
    ticket: *mut u64,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        submit(
            e,
            pixels,
            width,
            height,
            row_stride_bytes,
            ticket,
            Frame::from_u8,
        )
    }
}

/// `emunet_submit_u8` for a 16-bit frame.
///
/// # Safety
/// As `emunet_submit_u8`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn emunet_submit_u16(
    e: *mut emunet_engine,
    pixels: *const u16,
    width: u32,
    height: u32,
    row_stride_bytes: usize,
    ticket: *mut u64,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        submit(
            e,
            pixels,
            width,
            height,
            row_stride_bytes,
            ticket,
            Frame::from_u16,
        )
    }
}

/// The oldest submitted frame's result, with the outputs of `emunet_segment_u8` and its ticket
/// in `*ticket` (when not NULL). Returns `EMUNET_NOT_READY` (1) when it is not finished (with
/// `wait` 0) or nothing is in flight. `EMUNET_ERR_CAPACITY` keeps the result for the next poll
/// (`*n_clusters` says how many clusters it holds); any other error ends that frame.
///
/// # Safety
/// As `emunet_segment_u8`'s engine and outputs; `ticket` is NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn emunet_poll(
    e: *mut emunet_engine,
    wait: c_int,
    ticket: *mut u64,
    mask_out: *mut u8,
    prob_out: *mut f32,
    clusters: *mut emunet_cluster,
    capacity: usize,
    n_clusters: *mut usize,
) -> c_int {
    let mut not_ready = false;
    let code = guarded(|| {
        check_outputs(e, clusters, capacity, n_clusters)?;
        // SAFETY: e is an engine from emunet_engine_new used by one thread at a time.
        let engine = unsafe { &mut *e };
        if engine.ready.is_none() {
            match engine.unet.poll(wait != 0) {
                Ok(Some((t, seg))) => {
                    let frame = engine
                        .submitted
                        .pop_front()
                        .expect("every frame in flight was submitted here");
                    let found = seg.cluster_list(&frame);
                    engine.ready = Some(Ready {
                        ticket: t,
                        seg,
                        clusters: found,
                    });
                }
                Ok(None) => {
                    not_ready = true;
                    return Ok(());
                }
                Err(err) => {
                    engine.submitted.pop_front();
                    return Err(core(err));
                }
            }
        }
        let r = engine.ready.as_ref().expect("set above");
        // SAFETY: forwarded contract.
        unsafe {
            deliver(
                &r.seg,
                &r.clusters,
                mask_out,
                prob_out,
                clusters,
                capacity,
                n_clusters,
            )?
        };
        if !ticket.is_null() {
            // SAFETY: ticket is NULL or writable.
            unsafe { *ticket = r.ticket };
        }
        engine.ready = None;
        Ok(())
    });
    if code == EMUNET_OK && not_ready {
        EMUNET_NOT_READY
    } else {
        code
    }
}

/// Seconds the last successful `emunet_segment_u8/u16` on `e` spent in the engine (upload, GPU
/// work, readback and the cluster list), without this binding's copies of the pixels in and the
/// results out; 0 before the first call and for NULL. A caller's wall time minus this is the C
/// ABI's own cost (`benches/bindings.sh` measures it).
///
/// # Safety
/// `e` is NULL or an engine used by one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn emunet_last_elapsed(e: *const emunet_engine) -> f64 {
    if e.is_null() {
        return 0.0;
    }
    // SAFETY: an engine from emunet_engine_new (the caller's contract).
    unsafe { (*e).last_elapsed }
}

/// Frames submitted and not yet returned by `emunet_poll` (0 for NULL).
///
/// # Safety
/// `e` is NULL or an engine used by one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn emunet_in_flight(e: *const emunet_engine) -> usize {
    if e.is_null() {
        return 0;
    }
    // SAFETY: an engine from emunet_engine_new.
    let engine = unsafe { &*e };
    engine.submitted.len() + engine.ready.is_some() as usize
}

/// Chooses how the probabilities of the frames submitted from now on come back from the GPU:
/// `EMUNET_PROB_F32` (the default), `EMUNET_PROB_F16` or `EMUNET_PROB_U8` (the GPU writes and the
/// engine reads back fewer bytes). `prob_out` still receives floats, the rounded values; the mask
/// and the clusters do not change (the mask is decided on the unrounded probability).
///
/// # Safety
/// `e` is NULL or an engine used by one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn emunet_set_prob_format(e: *mut emunet_engine, format: c_int) -> c_int {
    guarded(|| {
        if e.is_null() {
            return Err(invalid("emunet_set_prob_format: engine is NULL"));
        }
        use emunet_core::kernels::ProbFormat;
        let format = match format {
            EMUNET_PROB_F32 => ProbFormat::F32,
            EMUNET_PROB_F16 => ProbFormat::F16,
            EMUNET_PROB_U8 => ProbFormat::U8,
            other => {
                return Err(invalid(&format!(
                    "emunet_set_prob_format: format {other} is not EMUNET_PROB_F32, _F16 or _U8"
                )));
            }
        };
        // SAFETY: an engine from emunet_engine_new, used by one thread (the caller's contract).
        unsafe { &mut *e }.unet.set_prob_format(format);
        Ok(())
    })
}

/// Sets the pixel size in µm of the frames given from now on: frames whose pixel differs from
/// the model's (the weights file's `pixel_um`, 0.30 for the shipped model) are resampled to the
/// model's scale and their probabilities back, so masks, probabilities and clusters stay in the
/// frame's own pixels. `0` (the default): frames are taken at the model's scale. Refused for a
/// negative or non-finite size and while frames are in flight.
///
/// # Safety
/// `e` is NULL or an engine used by one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn emunet_set_pixel_um(e: *mut emunet_engine, um: f64) -> c_int {
    guarded(|| {
        if e.is_null() {
            return Err(invalid("emunet_set_pixel_um: engine is NULL"));
        }
        let um = (um != 0.0).then_some(um);
        // SAFETY: an engine from emunet_engine_new, used by one thread (the caller's contract).
        let engine = unsafe { &mut *e };
        if engine.ready.is_some() || !engine.submitted.is_empty() {
            let n = engine.submitted.len() + engine.ready.is_some() as usize;
            return Err(core(Error::InFlight(n)));
        }
        if um.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
            return Err(invalid(&format!(
                "emunet_set_pixel_um: {} is not a pixel size in µm (0: the model's)",
                um.unwrap_or(0.0)
            )));
        }
        engine.unet.set_pixel_um(um).map_err(core)
    })
}

/// Clears the mask and probabilities within `lines` pixels of every edge of the frames given from
/// now on, as the station pipeline's border cut (0, the default: the whole frame). Dark lines
/// along the edges (a dead row, a crop edge) are cleared whatever it is.
///
/// # Safety
/// `e` is NULL or an engine used by one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn emunet_set_border(e: *mut emunet_engine, lines: usize) -> c_int {
    guarded(|| {
        if e.is_null() {
            return Err(invalid("emunet_set_border: engine is NULL"));
        }
        // SAFETY: an engine from emunet_engine_new, used by one thread (the caller's contract).
        unsafe { &mut *e }.unet.set_border(lines);
        Ok(())
    })
}

/// The most frames `emunet_submit_*` keeps in flight (0 for NULL).
///
/// # Safety
/// As `emunet_in_flight`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn emunet_max_in_flight(e: *const emunet_engine) -> usize {
    if e.is_null() {
        return 0;
    }
    // SAFETY: an engine from emunet_engine_new.
    unsafe { &*e }.unet.max_in_flight()
}
