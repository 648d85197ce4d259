//! Clusters on the GPU: the mask labelled in raster order (`label_components.wgsl`), then every
//! cluster's exact sums (`cluster_moments.wgsl`), so only the cluster table comes back, not the
//! maps. The result equals [`crate::clusters::label`] + [`crate::clusters::measure`] exactly:
//! the labelling is the same function, and the sums are integers the CPU turns into clusters
//! with the same [`Moments::cluster`].
//!
//! [`ClusterPlan`] binds to buffers a pipeline already holds on the GPU (the classical threshold's
//! mask and response, the U-Net's mask and raw frame); [`GpuClusters`] uploads host slices (tests,
//! callers with a mask in memory).

use crate::clusters::{Cluster, Connectivity, Moments};
use crate::error::{Error, Result};
use crate::gpu::{Context, read_mapped_prefix};
use crate::kernels::cluster_moments::STRIDE;
use crate::kernels::{
    ClusterMoments, Dispatch, LabelComponents, LabelParams, MomentsParams, WeightSource,
};
use std::sync::Arc;

/// Where a pipeline labels its mask and measures the clusters. Both give identical clusters
/// (`tests/clusters_gpu.rs`); they differ in speed and in what crosses the bus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Labelling {
    /// The GPU on a hardware adapter; the host on a CPU adapter (a software driver such as
    /// lavapipe), where the GPU labelling of a 1280×1024 frame measured 23–30 ms against
    /// 3.7–4.3 ms on the host (`cargo bench --bench classic`, 3 runs).
    #[default]
    Auto,
    /// `label_components.wgsl` and `cluster_moments.wgsl`: only the cluster table is read back.
    Gpu,
    /// `clusters::label` and `clusters::measure` on the mask read back.
    Host,
}

crate::choice!(Labelling {
    Auto => "auto",
    Gpu => "gpu",
    Host => "host",
});

impl Labelling {
    /// Whether it runs on the GPU on this device.
    pub fn on_gpu(self, ctx: &Context) -> bool {
        match self {
            Labelling::Gpu => true,
            Labelling::Host => false,
            Labelling::Auto => ctx.info.device_type != wgpu::DeviceType::Cpu,
        }
    }
}

/// The most clusters a `w × h` mask can hold: one per 2×2 cell with 8-connectivity, a
/// checkerboard's half of the pixels with 4-connectivity.
pub fn capacity(w: usize, h: usize, connectivity: Connectivity) -> usize {
    match connectivity {
        Connectivity::Eight => w.div_ceil(2) * h.div_ceil(2),
        Connectivity::Four => (w * h).div_ceil(2),
    }
}

/// The weights of a [`ClusterPlan`]: where v comes from and its offset.
#[derive(Clone, Copy, Debug)]
pub struct WeightRule {
    /// Where each pixel's value v comes from.
    pub source: WeightSource,
    /// The offset is `offset[offset_index]` of the offset buffer, read on the GPU.
    pub offset_index: u32,
    /// w = max(0, v − offset) when true, max(0, offset − v) when false.
    pub above: bool,
}

impl WeightRule {
    /// Every pixel weighs 1.
    pub const ONES: WeightRule = WeightRule {
        source: WeightSource::Ones,
        offset_index: 0,
        above: true,
    };
}

/// The GPU buffers and bind groups that label and measure one mask size.
pub struct ClusterPlan {
    /// Mask width (pixels).
    pub width: usize,
    /// Mask height (pixels).
    pub height: usize,
    /// Rows of the cluster table: the most clusters the mask can hold ([`capacity`]).
    pub capacity: usize,
    label_params: LabelParams,
    /// Final labels: 0 = background, k = cluster k − 1.
    pub labels: wgpu::Buffer,
    blocks: wgpu::Buffer,
    /// The cluster table (`cluster_moments.wgsl`'s rows).
    pub table: wgpu::Buffer,
    count_staging: wgpu::Buffer,
    table_staging: wgpu::Buffer,
    /// The labelling's dispatches (`label_components.wgsl`).
    label: Dispatch,
    /// The sums' dispatches (`cluster_moments.wgsl`).
    moments: Dispatch,
    /// Table rows that may be non-zero: those of the last frame read, or None (all) when work was
    /// recorded and not read. `record` clears them.
    dirty_rows: std::cell::Cell<Option<usize>>,
    /// Rows `record` copies to the staging buffer with the count (a guess from the last frame,
    /// so usually no second submit is needed), and the rows the last record copied.
    expected_rows: std::cell::Cell<usize>,
    copied_rows: std::cell::Cell<usize>,
    // Kept alive with the bind groups that use them.
    _parent: wgpu::Buffer,
    _list: wgpu::Buffer,
    _params: [wgpu::Buffer; 2],
}

impl ClusterPlan {
    /// Plans labelling and measuring `mask` (`w × h` bytes packed 4 per u32 word, on ≠ 0) with
    /// weights from `weights` and `offset` by `rule`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &Context,
        w: usize,
        h: usize,
        connectivity: Connectivity,
        mask: &wgpu::Buffer,
        weights: &wgpu::Buffer,
        offset: &wgpu::Buffer,
        rule: WeightRule,
    ) -> Result<Self> {
        if w == 0 || h == 0 || w > 65535 || h > 65535 {
            return Err(Error::Shape(format!(
                "GPU clusters take masks of 1 to 65535 pixels a side, not {w}×{h}"
            )));
        }
        let capacity = capacity(w, h, connectivity);
        let table_bytes = (capacity * STRIDE * 4) as u64;
        let largest = table_bytes.max((w * h * 4) as u64);
        if largest > ctx.max_binding_bytes() {
            return Err(Error::Shape(format!(
                "a {w}×{h} mask's cluster table ({} MiB) exceeds the device's storage binding \
                 ({} MiB)",
                largest >> 20,
                ctx.max_binding_bytes() >> 20
            )));
        }
        let label_params =
            LabelParams::new(w as u32, h as u32, connectivity == Connectivity::Eight);
        let moments_params = MomentsParams::new(
            w as u32,
            h as u32,
            capacity as u32,
            rule.source,
            rule.offset_index,
            rule.above,
        );
        let parent = ctx.storage("clusters.parent", (w * h * 4) as u64);
        let labels = ctx.storage("clusters.labels", (w * h * 4) as u64);
        let blocks = ctx.storage("clusters.blocks", (label_params.nblocks as u64 + 2) * 4);
        let list = ctx.storage("clusters.list", (w * h * 4) as u64);
        let table = ctx.storage("clusters.table", table_bytes);
        let params = [
            ctx.uniform("clusters.label.params", &label_params),
            ctx.uniform("clusters.moments.params", &moments_params),
        ];
        let label = ctx.kernel::<LabelComponents>(());
        let label = label.dispatch(
            label.bind(
                &ctx.device,
                "label_components",
                &[mask, &parent, &blocks, &list, &labels, &params[0]],
            ),
            &label_params,
        );
        let moments = ctx.kernel::<ClusterMoments>(());
        let moments = moments.dispatch(
            moments.bind(
                &ctx.device,
                "cluster_moments",
                &[&list, &labels, weights, offset, &blocks, &table, &params[1]],
            ),
            &moments_params,
        );
        Ok(ClusterPlan {
            width: w,
            height: h,
            capacity,
            label_params,
            count_staging: ctx.staging("clusters.count.staging", 4),
            table_staging: ctx.staging("clusters.table.staging", table.size()),
            labels,
            blocks,
            table,
            label,
            moments,
            // wgpu creates buffers zeroed.
            dirty_rows: std::cell::Cell::new(Some(0)),
            expected_rows: std::cell::Cell::new(capacity.min(4096)),
            copied_rows: std::cell::Cell::new(0),
            _parent: parent,
            _list: list,
            _params: params,
        })
    }

    /// Records the labelling and the sums into `encoder` (one compute pass), and the copies of the
    /// cluster count and of the rows the last frame suggests for [`ClusterPlan::read`].
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.clear_buffer(&self.labels, 0, None);
        match self.dirty_rows.take() {
            Some(0) => {}
            Some(rows) => encoder.clear_buffer(&self.table, 0, Some((rows * STRIDE * 4) as u64)),
            None => encoder.clear_buffer(&self.table, 0, None),
        }
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            self.label.record(&mut pass);
            self.moments.record(&mut pass);
        }
        encoder.copy_buffer_to_buffer(
            &self.blocks,
            self.label_params.nblocks as u64 * 4,
            &self.count_staging,
            0,
            4,
        );
        let rows = self.expected_rows.get();
        let bytes = (rows * STRIDE * 4) as u64;
        encoder.copy_buffer_to_buffer(&self.table, 0, &self.table_staging, 0, bytes);
        self.copied_rows.set(rows);
    }

    /// The cluster count of the work recorded last (after its submit); its table rows are the
    /// ones the next `record` clears.
    fn read_count(&self, ctx: &Context) -> Result<usize> {
        let count = read_mapped_prefix::<u32>(ctx, &self.count_staging, 4)?[0] as usize;
        let count = count.min(self.capacity);
        self.dirty_rows.set(Some(count));
        Ok(count)
    }

    /// The clusters of the work recorded last (after its submit), in raster order, with `shift`
    /// added to every position: reads the count, then that many table rows.
    pub fn read(&self, ctx: &Context, shift: (f64, f64)) -> Result<Vec<Cluster>> {
        let count = self.read_count(ctx)?;
        if count == 0 {
            return Ok(Vec::new());
        }
        // clamp() would panic for a capacity under 4096.
        self.expected_rows
            .set((count + count / 2).max(4096).min(self.capacity));
        let bytes = (count * STRIDE * 4) as u64;
        if count > self.copied_rows.get() {
            ctx.checked("reading the cluster table", || {
                let mut encoder = ctx.device.create_command_encoder(&Default::default());
                encoder.copy_buffer_to_buffer(&self.table, 0, &self.table_staging, 0, bytes);
                ctx.submit(encoder);
            })?;
        }
        let words = read_mapped_prefix::<u32>(ctx, &self.table_staging, bytes)?;
        Ok(words
            .chunks_exact(STRIDE)
            .enumerate()
            .map(|(id, row)| moments_of_row(row).cluster(id, self.width, shift))
            .collect())
    }
}

/// A table row (`cluster_moments.wgsl`'s layout) as [`Moments`].
fn moments_of_row(r: &[u32]) -> Moments {
    let wide = |i: usize, words: usize| -> u128 {
        (0..words).map(|k| (r[i + k] as u128) << (32 * k)).sum()
    };
    let key = r[19];
    let bits = if key & 0x8000_0000 != 0 {
        key & 0x7fff_ffff
    } else {
        !key
    };
    Moments {
        area: r[0] as u64,
        sx: wide(1, 2) as u64,
        sy: wide(3, 2) as u64,
        sxx: wide(5, 2) as u64,
        sxy: wide(7, 2) as u64,
        syy: wide(9, 2) as u64,
        sw: wide(11, 2) as u64,
        swx: wide(13, 3),
        swy: wide(16, 3),
        peak: f32::from_bits(bits),
        // Minima are kept as maxima of their complements (an empty row is all zeros).
        peak_index: !r[20] as usize,
        x0: !r[21] as usize,
        y0: !r[22] as usize,
        x1: r[23] as usize,
        y1: r[24] as usize,
    }
}

/// Labels and measures masks held in host memory: uploads the mask (and weights), runs a
/// [`ClusterPlan`], reads the table back.
pub struct GpuClusters {
    ctx: Arc<Context>,
    connectivity: Connectivity,
    plan: Option<(usize, usize, bool, Uploads, ClusterPlan)>,
    poison: bool,
}

struct Uploads {
    mask: wgpu::Buffer,
    weights: wgpu::Buffer,
    offset: wgpu::Buffer,
    labels_staging: wgpu::Buffer,
}

impl GpuClusters {
    /// Labels and measures on `ctx` with `connectivity`; plans buffers at the first call of a size.
    pub fn new(ctx: Arc<Context>, connectivity: Connectivity) -> Self {
        GpuClusters {
            ctx,
            connectivity,
            plan: None,
            poison: false,
        }
    }

    /// Tests: fill the labels and the cluster table with garbage before every run, so a pixel or
    /// row the kernels fail to write shows.
    pub fn set_poison(&mut self, poison: bool) {
        self.poison = poison;
    }

    fn run(&mut self, mask: &[u8], w: usize, h: usize, weight: Option<&[f32]>) -> Result<()> {
        if mask.len() != w * h || weight.is_some_and(|v| v.len() != w * h) {
            return Err(Error::Shape(format!(
                "a {w}×{h} mask needs {} bytes and as many weights, got {} and {}",
                w * h,
                mask.len(),
                weight.map_or(0, |v| v.len())
            )));
        }
        let ctx = self.ctx.clone();
        let key = (w, h, weight.is_some());
        if self
            .plan
            .as_ref()
            .is_none_or(|(pw, ph, pwt, _, _)| (*pw, *ph, *pwt) != key)
        {
            self.plan = None;
            let uploads = Uploads {
                mask: ctx.storage("clusters.mask", (w * h).div_ceil(4) as u64 * 4),
                weights: ctx.storage("clusters.weights", (w * h * 4) as u64),
                offset: ctx.upload("clusters.offset", &[0f32; 4]),
                labels_staging: ctx.staging("clusters.labels.staging", (w * h * 4) as u64),
            };
            let rule = match weight {
                Some(_) => WeightRule {
                    source: WeightSource::Values,
                    offset_index: 0,
                    above: true,
                },
                None => WeightRule::ONES,
            };
            let plan = ctx.checked("planning GPU clusters", || {
                ClusterPlan::new(
                    &ctx,
                    w,
                    h,
                    self.connectivity,
                    &uploads.mask,
                    &uploads.weights,
                    &uploads.offset,
                    rule,
                )
            })??;
            self.plan = Some((w, h, weight.is_some(), uploads, plan));
        }
        let (_, _, _, uploads, plan) = self.plan.as_ref().expect("planned above");
        let mut packed = vec![0u8; (w * h).next_multiple_of(4)];
        packed[..w * h].copy_from_slice(mask);
        ctx.checked("finding clusters on the GPU", || {
            ctx.queue.write_buffer(&uploads.mask, 0, &packed);
            if self.poison {
                for b in [&plan.labels, &plan.table] {
                    ctx.queue
                        .write_buffer(b, 0, &vec![0xa5u8; b.size() as usize]);
                }
                plan.dirty_rows.set(None);
            }
            if let Some(v) = weight {
                ctx.queue
                    .write_buffer(&uploads.weights, 0, bytemuck::cast_slice(v));
            }
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            plan.record(&mut encoder);
            ctx.submit(encoder);
        })
    }

    /// The clusters of `mask` (`w × h`, non-zero = on) weighted by `weight` (`None`: 1 per pixel),
    /// with `shift` added to every position: what [`crate::clusters::find_clusters`] returns.
    pub fn find(
        &mut self,
        mask: &[u8],
        w: usize,
        h: usize,
        weight: Option<&[f32]>,
        shift: (f64, f64),
    ) -> Result<Vec<Cluster>> {
        self.run(mask, w, h, weight)?;
        let (_, _, _, _, plan) = self.plan.as_ref().expect("run plans");
        plan.read(&self.ctx, shift)
    }

    /// The labelling of `mask` and its cluster count: what [`crate::clusters::label`] returns.
    pub fn label(&mut self, mask: &[u8], w: usize, h: usize) -> Result<(Vec<u32>, usize)> {
        self.run(mask, w, h, None)?;
        let ctx = &self.ctx;
        let (_, _, _, uploads, plan) = self.plan.as_ref().expect("run plans");
        let count = plan.read_count(ctx)?;
        ctx.checked("reading the labels", || {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            encoder.copy_buffer_to_buffer(
                &plan.labels,
                0,
                &uploads.labels_staging,
                0,
                (w * h * 4) as u64,
            );
            ctx.submit(encoder);
        })?;
        let labels = read_mapped_prefix::<u32>(ctx, &uploads.labels_staging, (w * h * 4) as u64)?;
        Ok((labels, count))
    }
}
