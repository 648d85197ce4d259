//! GPU context: adapter choice, device with the adapter's own limits and the optional features the
//! kernels can use, and small buffer helpers (upload, poisoned allocation, readback).

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a wait for the GPU may last before the device is declared hung, on a real GPU (which
/// does a 1280×1024 frame in milliseconds; Windows resets one stuck for 2 s), beyond the time
/// the work in flight may take (see [`Context::expect_work`]).
pub const GPU_TIMEOUT: Duration = Duration::from_secs(20);

/// The same on a CPU adapter (Mesa's lavapipe), where a 1280×1024 frame legitimately takes
/// seconds.
pub const CPU_ADAPTER_TIMEOUT: Duration = Duration::from_secs(60);

/// The slowest speed a device is allowed before its work counts as overdue, in FLOP/s: on a CPU
/// adapter a twentieth of what the U-Net measured on lavapipe (~21 GFLOP/s on 2 cores), on a
/// GPU a tenth of a small integrated one's.
const FLOOR_FLOPS_CPU: f64 = 1e9;
const FLOOR_FLOPS_GPU: f64 = 1e11;

/// How often a wait looks for a lost device.
pub(crate) const WAIT_SLICE: Duration = Duration::from_millis(100);

/// Optional features the kernels may use when the adapter has them.
pub const OPTIONAL_FEATURES: wgpu::Features = wgpu::Features::SHADER_F16
    .union(wgpu::Features::SUBGROUP)
    .union(wgpu::Features::TIMESTAMP_QUERY);

/// A device and queue on the chosen adapter, plus what we learned about it.
pub struct Context {
    /// The adapter the device was opened on.
    pub adapter: wgpu::Adapter,
    /// The logical device that owns every buffer and pipeline.
    pub device: wgpu::Device,
    /// The device's queue: uploads and submissions.
    pub queue: wgpu::Queue,
    /// The adapter's name, backend and type (a CPU adapter gets longer timeouts).
    pub info: wgpu::AdapterInfo,
    /// The device's limits: the adapter's own, all requested.
    pub limits: wgpu::Limits,
    /// The [`OPTIONAL_FEATURES`] the adapter has, all enabled on the device.
    pub features: wgpu::Features,
    /// Every (kernel, configuration) asked for so far, compiled on first use.
    pipelines: crate::kernels::PipelineCache,
    /// The weight-loading variant for this adapter, chosen on first use.
    variant: std::sync::OnceLock<crate::kernels::Variant>,
    /// Why the device can no longer be used (lost, hung, or an error outside any error scope):
    /// every later wait reports it instead of hanging or panicking.
    fault: Arc<Mutex<Option<String>>>,
    /// The wait limit beyond the work in flight, in milliseconds.
    timeout_ms: AtomicU64,
    /// Set by `EMUNET_GPU_TIMEOUT` or [`Context::set_gpu_timeout`]: the limit is that, whatever
    /// the work in flight.
    timeout_fixed: std::sync::atomic::AtomicBool,
    /// The time the work submitted and not yet waited for may take at the floor speed, in ms.
    outstanding_ms: AtomicU64,
    /// Held around every `device.poll` and `queue.submit` (which maintains the device too): two
    /// threads doing so on one device at once can trip an assertion in wgpu-core 30 (a stale
    /// fence read against a queue another poll just emptied: "the current submission index (90)
    /// should be at least the wait submission index (91)", seen in `tests/fused.rs`; fixed
    /// upstream after 30.0.2).
    poll_lock: Mutex<()>,
}

/// Work on the device, counted into the wait limit until this is dropped
/// ([`Context::expect_work`]).
pub struct ExpectedWork {
    ctx: Arc<Context>,
    ms: u64,
}

impl Drop for ExpectedWork {
    fn drop(&mut self) {
        self.ctx
            .outstanding_ms
            .fetch_sub(self.ms, Ordering::Relaxed);
    }
}

/// Live objects of a device, from [`Context::gpu_objects`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpuObjects {
    /// Live buffers.
    pub buffers: isize,
    /// Live bind groups.
    pub bind_groups: isize,
    /// Bytes of GPU memory held by buffers.
    pub buffer_bytes: isize,
    /// Bytes held by textures (the fused engine's activations). wgpu's Vulkan backend counts
    /// texture memory but not textures, so there is no texture count.
    pub texture_bytes: isize,
}

/// Ranks adapters: a real GPU before an integrated one, before a virtual one, before a CPU one.
fn device_type_rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl Context {
    /// Opens the best adapter, or the first whose name contains `EMUNET_ADAPTER` (case-insensitive).
    /// `WGPU_BACKEND` restricts the backends as in wgpu's examples.
    pub fn new() -> Result<Self> {
        let wanted = std::env::var("EMUNET_ADAPTER")
            .ok()
            .filter(|s| !s.is_empty());
        Self::with_adapter(wanted.as_deref())
    }

    /// Opens the best adapter, or the first whose name contains `name` (case-insensitive).
    pub fn with_adapter(name: Option<&str>) -> Result<Self> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::from_env()
            .unwrap_or(wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12);
        let instance = wgpu::Instance::new(desc);
        let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        if adapters.is_empty() {
            return Err(Error::NoAdapter(String::new()));
        }
        adapters.sort_by_key(|a| device_type_rank(a.get_info().device_type));
        let adapter = match name {
            Some(n) => {
                let needle = n.to_lowercase();
                let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
                let pos = adapters
                    .iter()
                    .position(|a| a.get_info().name.to_lowercase().contains(&needle))
                    .ok_or_else(|| {
                        Error::NoAdapter(format!(
                            " matching EMUNET_ADAPTER={n:?} (present: {})",
                            names.join(", ")
                        ))
                    })?;
                adapters.swap_remove(pos)
            }
            None => adapters.swap_remove(0),
        };
        let info = adapter.get_info();
        let limits = adapter.limits();
        let features = adapter.features() & OPTIONAL_FEATURES;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("emunet"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::Device(e.to_string()))?;
        let fault: Arc<Mutex<Option<String>>> = Arc::default();
        let lost = fault.clone();
        device.set_device_lost_callback(move |reason, message| {
            let why = match reason {
                wgpu::DeviceLostReason::Destroyed => "the device was destroyed".to_string(),
                _ if message.is_empty() => "the driver reported it lost".to_string(),
                _ => format!("the driver reported it lost: {message}"),
            };
            record_fault(&lost, why);
        });
        // wgpu's default handler panics on an error raised outside an error scope; record it.
        let uncaptured = fault.clone();
        device.on_uncaptured_error(Arc::new(move |e| {
            record_fault(
                &uncaptured,
                format!("GPU error outside a checked call: {e}"),
            )
        }));
        let fixed = timeout_from_env()?;
        let timeout = match fixed {
            Some(t) => t,
            None if info.device_type == wgpu::DeviceType::Cpu => CPU_ADAPTER_TIMEOUT,
            None => GPU_TIMEOUT,
        };
        let pipelines = crate::kernels::PipelineCache::new(device.clone());
        Ok(Context {
            adapter,
            device,
            queue,
            info,
            limits,
            features,
            pipelines,
            variant: std::sync::OnceLock::new(),
            fault,
            timeout_ms: AtomicU64::new(timeout.as_millis() as u64),
            timeout_fixed: fixed.is_some().into(),
            outstanding_ms: AtomicU64::new(0),
            poll_lock: Mutex::new(()),
        })
    }

    /// How long a wait for the GPU may last before the device is declared hung:
    /// `EMUNET_GPU_TIMEOUT` seconds when set, else [`GPU_TIMEOUT`] ([`CPU_ADAPTER_TIMEOUT`] on a
    /// CPU adapter) plus the time the work in flight may take ([`Context::expect_work`]).
    pub fn gpu_timeout(&self) -> Duration {
        let base = self.timeout_ms.load(Ordering::Relaxed);
        let work = if self.timeout_fixed.load(Ordering::Relaxed) {
            0
        } else {
            self.outstanding_ms.load(Ordering::Relaxed)
        };
        Duration::from_millis(base + work)
    }

    /// Fixes the longest wait for the GPU (at least 1 ms), whatever the work in flight.
    pub fn set_gpu_timeout(&self, timeout: Duration) {
        let ms = (timeout.as_millis() as u64).max(1);
        self.timeout_ms.store(ms, Ordering::Relaxed);
        self.timeout_fixed.store(true, Ordering::Relaxed);
    }

    /// Counts `flops` of submitted work into the wait limit (at the slowest plausible speed of
    /// this kind of adapter) until the returned value is dropped: a 16,384² frame or a batch on a
    /// software driver is not mistaken for a hung device, a small frame on a GPU is not given
    /// minutes.
    pub fn expect_work(self: &Arc<Self>, flops: u64) -> ExpectedWork {
        let floor = if self.info.device_type == wgpu::DeviceType::Cpu {
            FLOOR_FLOPS_CPU
        } else {
            FLOOR_FLOPS_GPU
        };
        let ms = (flops as f64 / floor * 1e3).ceil() as u64;
        self.outstanding_ms.fetch_add(ms, Ordering::Relaxed);
        ExpectedWork {
            ctx: self.clone(),
            ms,
        }
    }

    /// Live GPU objects and memory of this device (wgpu's internal counters): what a long run
    /// watches to prove it does not leak.
    pub fn gpu_objects(&self) -> GpuObjects {
        let hal = self.device.get_internal_counters().hal;
        GpuObjects {
            buffers: hal.buffers.read(),
            bind_groups: hal.bind_groups.read(),
            buffer_bytes: hal.buffer_memory.read(),
            texture_bytes: hal.texture_memory.read(),
        }
    }

    /// `Err(DeviceLost)` once the device was lost, hung or hit an unchecked error.
    pub fn healthy(&self) -> Result<()> {
        match &*self.fault.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(why) => Err(Error::DeviceLost(why.clone())),
            None => Ok(()),
        }
    }

    /// Waits until `submission` (or all submitted work) is done and map callbacks have run, in
    /// slices so a lost device is noticed at once; past [`Context::gpu_timeout`] the device is
    /// declared hung (and unusable from then on). `what` names the wait in the error.
    pub fn wait(&self, what: &str, submission: Option<wgpu::SubmissionIndex>) -> Result<()> {
        let limit = self.gpu_timeout();
        let start = Instant::now();
        loop {
            self.healthy()?;
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                let why = format!(
                    "the GPU did not finish {what} within {:.1} s (set EMUNET_GPU_TIMEOUT to \
                     allow longer); it is taken to be hung",
                    limit.as_secs_f64()
                );
                record_fault(&self.fault, why);
                return self.healthy();
            }
            let polled = {
                let _alone = self.poll_lock.lock().unwrap_or_else(|p| p.into_inner());
                self.device.poll(wgpu::PollType::Wait {
                    submission_index: submission.clone(),
                    timeout: Some(left.min(WAIT_SLICE)),
                })
            };
            match polled {
                Ok(_) => return self.healthy(),
                Err(wgpu::PollError::Timeout) => continue,
                Err(e) => {
                    return Err(Error::Gpu {
                        context: format!("waiting for {what}"),
                        message: e.to_string(),
                    });
                }
            }
        }
    }

    /// Submits `encoder`'s commands, holding `poll_lock`: wgpu-core's submit also maintains the
    /// device (reads the fence, triages finished work), which races a poll on another thread the
    /// same way two polls do.
    pub fn submit(&self, encoder: wgpu::CommandEncoder) -> wgpu::SubmissionIndex {
        let _alone = self.poll_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.queue.submit([encoder.finish()])
    }

    /// Runs the callbacks of finished work without waiting (see `poll_lock`).
    pub fn poll_now(&self) -> std::result::Result<(), wgpu::PollError> {
        let _alone = self.poll_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.device.poll(wgpu::PollType::Poll).map(|_| ())
    }

    /// Kernel `K` compiled for `config`: built on the first request, shared after (for the life
    /// of the device).
    pub fn kernel<K: crate::kernels::Kernel>(
        &self,
        config: K::Config,
    ) -> Arc<crate::kernels::Compiled<K>> {
        self.pipelines.get::<K>(config)
    }

    /// Every (kernel, configuration) compiled so far, in the order first asked for.
    pub fn compiled_kernels(&self) -> Vec<String> {
        self.pipelines.built()
    }

    /// How conv3x3 and upconv2x2 load their weights on this adapter ([`Variant::choose`], read
    /// once).
    ///
    /// [`Variant::choose`]: crate::kernels::Variant::choose
    pub fn variant(&self) -> crate::kernels::Variant {
        *self
            .variant
            .get_or_init(|| crate::kernels::Variant::choose(self.features, &self.info))
    }

    /// The largest buffer one storage binding may hold on this device.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// A human-readable report of the adapter, its limits and optional features (`emunet info`).
    pub fn describe(&self) -> String {
        let i = &self.info;
        let l = &self.limits;
        let yes = |f: wgpu::Features| {
            if self.features.contains(f) {
                "yes"
            } else {
                "no"
            }
        };
        format!(
            "adapter:      {}\nbackend:      {:?}\ndriver:       {} {}\ndevice type:  {:?}\n\
             max storage binding:     {} MiB\nmax buffer size:         {} MiB\n\
             max workgroup storage:   {} KiB\nmax invocations/group:   {}\n\
             max workgroups per dim:  {}\n\
             shader-f16:   {}\nsubgroups:    {} (size {}..{})\ntimestamps:   {}",
            i.name,
            i.backend,
            i.driver,
            i.driver_info,
            i.device_type,
            l.max_storage_buffer_binding_size >> 20,
            l.max_buffer_size >> 20,
            l.max_compute_workgroup_storage_size >> 10,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroups_per_dimension,
            yes(wgpu::Features::SHADER_F16),
            yes(wgpu::Features::SUBGROUP),
            i.subgroup_min_size,
            i.subgroup_max_size,
            yes(wgpu::Features::TIMESTAMP_QUERY),
        )
    }

    /// A storage buffer holding `data`.
    pub fn upload<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> wgpu::Buffer {
        self.buffer_with(
            label,
            bytemuck::cast_slice(data),
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        )
    }

    /// A uniform buffer holding one parameter struct.
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, params: &T) -> wgpu::Buffer {
        self.buffer_with(
            label,
            bytemuck::bytes_of(params),
            wgpu::BufferUsages::UNIFORM,
        )
    }

    /// A buffer of `usage` (plus COPY_DST) holding `contents`, zero-padded to 4 bytes. Written
    /// through the queue rather than mapped at creation: wgpu's `create_buffer_init` panics when
    /// the device was lost meanwhile, the queue write is a no-op that [`Context::wait`] reports.
    pub fn buffer_with(
        &self,
        label: &str,
        contents: &[u8],
        usage: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        let size = (contents.len() as u64).max(4).next_multiple_of(4);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if contents.len() as u64 == size {
            self.queue.write_buffer(&buffer, 0, contents);
        } else {
            let mut padded = contents.to_vec();
            padded.resize(size as usize, 0);
            self.queue.write_buffer(&buffer, 0, &padded);
        }
        buffer
    }

    /// A storage buffer of `bytes` bytes (rounded up to 16), uninitialised from the caller's view.
    pub fn storage(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(16).next_multiple_of(16),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    }

    /// A storage buffer of `len` f32 filled with NaN, so a kernel that skips an element is caught.
    pub fn poisoned(&self, label: &str, len: usize) -> wgpu::Buffer {
        self.upload(label, &vec![f32::NAN; len.max(4)])
    }

    /// A host-readable buffer of `bytes` that a copy can fill, for [`read_mapped`].
    pub fn staging(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Copies `buffer` back to the host (blocking) and returns it as `T`s.
    pub fn read<T: bytemuck::Pod>(&self, buffer: &wgpu::Buffer) -> Result<Vec<T>> {
        let staging = self.staging("readback", buffer.size());
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
        self.submit(encoder);
        read_mapped(self, &staging)
    }

    /// Runs `record` inside a validation error scope and reports a GPU error as `Error::Gpu`.
    pub fn checked<R>(&self, context: &str, record: impl FnOnce() -> R) -> Result<R> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let r = record();
        let oom = pollster::block_on(oom.pop());
        let invalid = pollster::block_on(scope.pop());
        let Some(e) = oom.or(invalid) else {
            return Ok(r);
        };
        // A destroyed device makes every object invalid, but wgpu reports the loss only once its
        // queue has drained: wait for that (bounded), so the loss is named rather than its echo.
        self.wait(context, None)?;
        Err(Error::Gpu {
            context: context.to_string(),
            message: e.to_string(),
        })
    }
}

/// Waits for the GPU, then copies the first `bytes` of a mapped staging buffer (the rest stays
/// unread: the cluster table is read up to its count).
pub fn read_mapped_prefix<T: bytemuck::Pod>(
    ctx: &Context,
    staging: &wgpu::Buffer,
    bytes: u64,
) -> Result<Vec<T>> {
    let (tx, rx) = std::sync::mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, ..bytes, move |r| {
        let _ = tx.send(r);
    });
    ctx.wait("the readback", None)?;
    // The wait ran the callback; a device lost meanwhile explains a failed map best.
    let outcome = rx.recv_timeout(WAIT_SLICE);
    ctx.healthy()?;
    let gpu = |e: String| Error::Gpu {
        context: "readback".into(),
        message: e,
    };
    match outcome {
        Ok(mapped) => mapped.map_err(|e| gpu(e.to_string()))?,
        Err(_) => return Err(gpu("the buffer's mapping never completed".into())),
    }
    copy_mapped(staging, bytes)
}

/// Copies the first `bytes` of a buffer already mapped for reading, then unmaps it.
pub fn copy_mapped<T: bytemuck::Pod>(mapped: &wgpu::Buffer, bytes: u64) -> Result<Vec<T>> {
    let out = mapped
        .get_mapped_range(..bytes)
        .map(|view| bytemuck::pod_collect_to_vec::<u8, T>(&view))
        .map_err(|e| Error::Gpu {
            context: "readback".into(),
            message: e.to_string(),
        });
    mapped.unmap();
    out
}

/// Maps a MAP_READ buffer (after its copy was submitted), waits, and copies it out.
pub fn read_mapped<T: bytemuck::Pod>(ctx: &Context, staging: &wgpu::Buffer) -> Result<Vec<T>> {
    read_mapped_prefix(ctx, staging, staging.size())
}

/// Keeps the first reason the device became unusable.
fn record_fault(fault: &Mutex<Option<String>>, why: String) {
    let mut slot = fault.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        *slot = Some(why);
    }
}

/// `EMUNET_GPU_TIMEOUT` in seconds, when set.
fn timeout_from_env() -> Result<Option<Duration>> {
    let Ok(text) = std::env::var("EMUNET_GPU_TIMEOUT") else {
        return Ok(None);
    };
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 1e6 => Ok(Some(Duration::from_secs_f64(s))),
        _ => Err(Error::Device(format!(
            "EMUNET_GPU_TIMEOUT={text:?}: expected a number of seconds above 0"
        ))),
    }
}
