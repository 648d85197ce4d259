//! `emunet segment`: frames in; masks, probabilities and clusters out, as a pipeline of a reader
//! thread, the GPU and a writer thread; or one cluster table of the run (Parquet, ROOT).

use crate::common::{
    OutputFile, Tally, choice, collect_frames, create_dir, load_frame, positive, shard, stem_of,
};
use emunet::clusters;
use emunet::flatfield::FlatField;
use emunet::kernels::{Precision, ProbFormat};
use emunet::unet::Engine;
use emunet::{Context, Frame, Model, Unet};
use emunet_tools::formats::{FrameClusters, TableFormat};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// `emunet segment`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Weights file (.safetensors, format emunet-unet/1); default: the shipped model
    /// (crates/emunet/weights/default.safetensors, built into the binary).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Probability threshold for the mask (default: the weights file's).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Also print the GPU time of every dispatch for the first frame (timestamp queries).
    #[arg(long)]
    pub profile: bool,
    /// Inference path: fused (activations in textures, normalisation and head fused into the
    /// first and last convs), ops (one dispatch per operation, the training kernels), or
    /// auto (fused where the model and frame allow it).
    #[arg(long, value_parser = choice::<Engine>(), default_value_t = Engine::Auto)]
    pub engine: Engine,
    /// How the fused engine stores activations: f32, f16 (f32 arithmetic, half the traffic;
    /// probabilities move by < 0.01), or auto (f16 in the fused engine, f32 in the
    /// per-operation engine; docs/accuracy.md and docs/speed.md compare them).
    #[arg(long, value_enum, default_value_t = PrecisionArg::Auto)]
    pub precision: PrecisionArg,
    /// How the probabilities come back from the GPU: f32, f16 (|Δp| ≤ 2⁻¹²) or u8
    /// (round(255·p), |Δp| ≤ 1/510): the fused engine's last conv writes them so, beside a
    /// mask decided on the f32 probability (the same mask whatever the format). The
    /// .prob.npy files stay float32, holding the rounded values.
    #[arg(long, value_parser = choice::<ProbFormat>(), default_value_t = ProbFormat::F32)]
    pub prob_format: ProbFormat,
    /// Also write DIR/<stem>.clusters.json.
    #[arg(long)]
    pub json: bool,
    /// The clusters table: csv (DIR/<stem>.clusters.csv per frame), json
    /// (DIR/<stem>.clusters.json per frame), or one table of every frame of the run:
    /// parquet (DIR/clusters.parquet) or root (DIR/clusters.root, TTree "clusters"); with
    /// --shard I/N, DIR/clusters.shard-I-of-N.parquet (.root). Columns: docs/guide.md, Plate scale.
    #[arg(long, value_enum, default_value_t = ClustersFormat::Csv)]
    pub format: ClustersFormat,
    /// Process only the I-th (from 0) of N equal contiguous shards of the frame list (frames
    /// in the order given, folders' frames in name order), e.g. a Slurm array task's
    /// --shard $SLURM_ARRAY_TASK_ID/N.
    #[arg(long, value_parser = shard)]
    pub shard: Option<(usize, usize)>,
    /// Write only the clusters: no mask PNG or probability file per frame.
    #[arg(long)]
    pub clusters_only: bool,
    /// Keep touching grains in one cluster (by default a cluster is split where its
    /// darkness has separate maxima).
    #[arg(long)]
    pub no_split: bool,
    /// Also write DIR/<stem>.overlay.png: the frame with cluster outlines (green; split
    /// pieces magenta) and positions (red).
    #[arg(long)]
    pub overlay: bool,
    /// The frames' pixel size in µm: frames whose pixel differs from the model's (the weights
    /// file's `pixel_um`, 0.30 for the shipped model) are resampled to the model's scale and
    /// the probabilities back to the frame's pixels, so masks and clusters stay in the frame's
    /// own pixels. Default: frames are taken at the model's scale.
    #[arg(long, value_parser = positive)]
    pub pixel_um: Option<f64>,
    /// Clear the mask within B pixels of every edge before the clusters, as the station
    /// pipeline's border cut (`classic --border`). Dark lines along the edges (a dead row, a
    /// crop edge) are cleared whatever B is.
    #[arg(long, default_value_t = 0)]
    pub border: usize,
    /// Take the camera's fixed pattern out of every frame first (a file from `emunet
    /// flatfield`).
    #[arg(long)]
    pub flatfield: Option<PathBuf>,
    /// Skip frames whose outputs are all in DIR already (each file is written atomically:
    /// one that exists is complete), so re-running an interrupted run does only the rest.
    #[arg(long)]
    pub skip_existing: bool,
    /// Frames (PNG or TIFF, 8/16-bit) or folders of frames.
    #[arg(required = true)]
    pub frames: Vec<PathBuf>,
}

/// `--format`: the clusters table `segment` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClustersFormat {
    Csv,
    Json,
    Parquet,
    Root,
}

impl ClustersFormat {
    fn table(self) -> Option<TableFormat> {
        match self {
            ClustersFormat::Parquet => Some(TableFormat::Parquet),
            ClustersFormat::Root => Some(TableFormat::Root),
            _ => None,
        }
    }
}

/// `--precision`: the storage precision of the fused engine's activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    /// f16 in the fused engine (the same scores, faster: docs/accuracy.md, docs/speed.md),
    /// f32 in the per-operation one.
    Auto,
    F32,
    F16,
}

impl PrecisionArg {
    /// The library's setting: None is its auto.
    fn resolve(self) -> Option<Precision> {
        match self {
            PrecisionArg::Auto => None,
            PrecisionArg::F32 => Some(Precision::F32),
            PrecisionArg::F16 => Some(Precision::F16),
        }
    }
}

/// What `segment` writes and how it builds clusters.
#[derive(Clone, Copy)]
struct SegmentOutputs {
    /// Per frame: the clusters CSV, JSON; the mask PNG and probabilities.
    csv: bool,
    json: bool,
    maps: bool,
    /// One table of the whole run (or shard).
    table: Option<TableFormat>,
    split: bool,
    overlay: bool,
}

impl SegmentOutputs {
    /// The files one frame's outputs make.
    fn files(&self, out: &Path, stem: &str) -> Vec<PathBuf> {
        let mut kinds = Vec::new();
        if self.maps {
            kinds.extend([OutputFile::Mask, OutputFile::Prob]);
        }
        if self.csv {
            kinds.push(OutputFile::Csv);
        }
        if self.json {
            kinds.push(OutputFile::Json);
        }
        if self.overlay {
            kinds.push(OutputFile::Overlay);
        }
        kinds.into_iter().map(|k| k.path(out, stem)).collect()
    }
}

/// The frames (with their indices in the whole list) of shard `i` of `n`: the i-th of n
/// contiguous blocks whose sizes differ by at most one.
fn shard_of(frames: Vec<PathBuf>, (i, n): (usize, usize)) -> Vec<(usize, PathBuf)> {
    let len = frames.len();
    let (start, end) = (i * len / n, (i + 1) * len / n);
    frames
        .into_iter()
        .enumerate()
        .skip(start)
        .take(end - start)
        .collect()
}

/// Segments every frame (or the shard's) and writes what `args` asks for.
pub fn run(args: Args) -> emunet::Result<ExitCode> {
    let outputs = SegmentOutputs {
        csv: args.format == ClustersFormat::Csv,
        json: args.json || args.format == ClustersFormat::Json,
        table: args.format.table(),
        maps: !args.clusters_only,
        split: !args.no_split,
        overlay: args.overlay,
    };
    let Args {
        weights,
        out,
        threshold,
        profile,
        engine,
        precision,
        prob_format,
        flatfield,
        pixel_um,
        border,
        skip_existing,
        shard,
        frames: inputs,
        ..
    } = args;
    let precision = precision.resolve();
    let (weights, out, flatfield) = (weights.as_deref(), out.as_path(), flatfield.as_deref());
    let flat = flatfield.map(FlatField::load).transpose()?;
    let model = match weights {
        Some(path) => Model::load(path)?,
        None => Model::shipped()?,
    };
    let all = collect_frames(&inputs);
    if all.is_empty() {
        eprintln!("error: no PNG or TIFF frames found in {inputs:?}");
        return Ok(ExitCode::FAILURE);
    }
    let total = all.len();
    let mut frames: Vec<(usize, PathBuf)> = match shard {
        Some(s) => shard_of(all, s),
        None => all.into_iter().enumerate().collect(),
    };
    if let Some((i, n)) = shard {
        match (frames.first(), frames.last()) {
            (Some((a, _)), Some((b, _))) => {
                eprintln!("shard {i}/{n}: frames {a}..={b} of {total} (counting from 0)")
            }
            _ => {
                println!("shard {i}/{n} of {total} frame(s) is empty: nothing to do");
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    create_dir(out)?;
    let table = outputs.table.map(|format| {
        let name = match shard {
            Some((i, n)) => format!("clusters.shard-{i}-of-{n}.{}", format.extension()),
            None => format!("clusters.{}", format.extension()),
        };
        (out.join(name), format)
    });
    if skip_existing {
        emunet::model::remove_stale_temporaries(out);
        // A run's table is written last, once: if it is there, the run was complete.
        if let Some((path, _)) = &table {
            if path.is_file() {
                println!(
                    "nothing left to do: {} is complete (--skip-existing)",
                    path.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
        let total = frames.len();
        frames.retain(|(_, path)| {
            let stem = stem_of(path);
            table.is_some() || !outputs.files(out, &stem).iter().all(|f| f.is_file())
        });
        if frames.len() < total {
            eprintln!(
                "{} of {total} frame(s) skipped: all their outputs are in {} (--skip-existing)",
                total - frames.len(),
                out.display()
            );
        }
        if frames.is_empty() {
            println!("nothing left to do");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let ctx = Arc::new(Context::new()?);
    let mut unet = Unet::new(ctx.clone(), &model)?;
    if let Some(t) = threshold {
        unet.set_threshold(t)?;
    }
    unet.set_flatfield(flat.as_ref());
    unet.set_pixel_um(pixel_um)?;
    unet.set_border(border);
    unet.set_engine(engine);
    unet.set_precision(precision);
    unet.set_prob_format(prob_format);
    eprintln!(
        "{} UNet({}, {}), {} normalisation, on {} ({:?}), threshold {}, engine {:?}, {} activations, {:?} probabilities",
        match weights {
            Some(path) => path.display().to_string(),
            None => "shipped model".into(),
        },
        model.depth,
        model.channels,
        model.normalization().name(),
        ctx.info.name,
        ctx.info.backend,
        unet.threshold,
        engine,
        precision.map_or("auto (f16 fused, f32 ops)".to_string(), |p| format!(
            "{p:?}"
        )),
        prob_format
    );
    if let Some(um) = pixel_um.filter(|_| unet.rescaling()) {
        eprintln!(
            "frames of {um} µm pixels are resampled to the model's {} µm and back",
            unet.model_pixel_um()
        );
    }
    if profile {
        print_profile(
            &mut unet,
            &frames[0].1,
            ctx.info.device_type == wgpu::DeviceType::Cpu,
        )?;
    }
    let (code, rows) = segment_pipelined(&mut unet, &frames, out, outputs, &ctx);
    if let (Some((path, format)), Some(rows)) = (table, rows) {
        let clusters: usize = rows.iter().map(|f| f.clusters.len()).sum();
        emunet_tools::formats::write_table(&path, format, &rows)?;
        println!(
            "wrote {} ({} clusters of {} frame(s))",
            path.display(),
            clusters,
            rows.len()
        );
    }
    Ok(code)
}

/// `segment` over many frames as a three-stage pipeline: a reader thread decodes the next frames,
/// the main thread streams them through the GPU (up to the engine's ring of frames in flight,
/// [`Unet::submit`] / [`Unet::poll`]), and a writer thread measures clusters and writes the files
/// of finished ones; at most two frames wait between threads. Lines print in frame order.
///
/// A device fault (lost, hung) or a full output disk stops the run: frames in flight are reported
/// failed, the rest are not started, and the summary says how many were done (exit status 3;
/// `--skip-existing` goes on).
///
/// With a table format the clusters of the done frames come back, in frame order, unless the
/// run stopped.
fn segment_pipelined(
    unet: &mut Unet,
    frames: &[(usize, PathBuf)],
    out: &Path,
    outputs: SegmentOutputs,
    ctx: &Context,
) -> (ExitCode, Option<Vec<FrameClusters>>) {
    use std::collections::VecDeque;
    use std::sync::mpsc::sync_channel;
    type Segmented = emunet::Result<(Frame, emunet::unet::Segmentation)>;
    /// A frame in submission order: on the GPU, or failed before it got there.
    enum Job {
        OnGpu(Frame),
        Failed(emunet::Error),
    }
    let (to_gpu, from_reader) = sync_channel::<(PathBuf, emunet::Result<Frame>)>(2);
    let (to_writer, from_gpu) = sync_channel::<(PathBuf, Segmented)>(2);
    // The first error that ends the run (every later frame would fail the same way).
    let fault = std::sync::Mutex::new(None::<String>);
    let note_fault = |e: &emunet::Error| {
        if e.is_device_fault() || e.is_disk_full() {
            fault
                .lock()
                .expect("fault lock")
                .get_or_insert_with(|| e.to_string());
        }
    };
    let stopped = || fault.lock().expect("fault lock").is_some();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (_, path) in frames {
                if to_gpu.send((path.clone(), load_frame(path, None))).is_err() {
                    break;
                }
            }
        });
        let writer = scope.spawn(move || {
            let mut tally = Tally::new(frames.len());
            let mut rows = Vec::new();
            // Every frame reaches the writer, in order, done or failed.
            for ((index, _), (path, segmented)) in frames.iter().zip(from_gpu) {
                let result =
                    segmented.and_then(|(raw, seg)| finish_one(&path, &raw, &seg, out, outputs));
                let result = result.map(|(line, ms, clusters)| {
                    if outputs.table.is_some() {
                        rows.push(FrameClusters {
                            frame: *index,
                            name: stem_of(&path),
                            clusters,
                        });
                    }
                    (line, ms)
                });
                if let Err(e) = &result {
                    note_fault(e);
                }
                tally.record(&path, result);
            }
            (tally, rows)
        });
        // Hands the oldest job to the writer (waiting for the GPU if it is there); false when the
        // writer has gone or the device failed.
        let send_oldest = |unet: &mut Unet, queue: &mut VecDeque<(PathBuf, Job)>| {
            let Some((path, job)) = queue.pop_front() else {
                return true;
            };
            let segmented = match job {
                Job::Failed(e) => Err(e),
                Job::OnGpu(raw) => match unet.poll(true) {
                    Ok(Some((_, seg))) => Ok((raw, seg)),
                    Ok(None) => unreachable!("every job on the GPU is in flight"),
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = &segmented {
                note_fault(e);
            }
            to_writer.send((path, segmented)).is_ok() && !stopped()
        };
        // Test hook: lose the device after this many frames were submitted (tests/gpu_faults.rs).
        let destroy_after: Option<usize> = std::env::var("EMUNET_TEST_DESTROY_DEVICE_AFTER")
            .ok()
            .and_then(|n| n.parse().ok());
        let mut submitted = 0;
        let mut queue = VecDeque::new();
        'frames: for (path, loaded) in from_reader {
            if stopped() {
                break;
            }
            if destroy_after == Some(submitted) {
                ctx.device.destroy();
            }
            let job = match loaded {
                Ok(raw) => {
                    // A full ring: hand back the oldest (failures at the front were sent below).
                    if unet.in_flight() == unet.max_in_flight() && !send_oldest(unet, &mut queue) {
                        break 'frames;
                    }
                    submitted += 1;
                    match unet.submit(&raw) {
                        Ok(_) => Job::OnGpu(raw),
                        Err(e) => Job::Failed(e),
                    }
                }
                Err(e) => Job::Failed(e),
            };
            queue.push_back((path, job));
            while matches!(queue.front(), Some((_, Job::Failed(_)))) {
                if !send_oldest(unet, &mut queue) {
                    break 'frames;
                }
            }
        }
        // After a fault the frames still queued go to the writer too (each fails by itself).
        while !queue.is_empty() {
            if !send_oldest(unet, &mut queue) && !stopped() {
                break;
            }
        }
        drop(to_writer);
        let (tally, rows) = writer.join().expect("the writer thread does not panic");
        let Some(why) = fault.lock().expect("fault lock").take() else {
            return (tally.finish("segmented"), Some(rows));
        };
        let (done, failed) = (tally.ok, tally.failed);
        tally.finish("segmented");
        let not_started = frames.len() - done - failed;
        eprintln!(
            "stopped: {why}\n{done} of {} frame(s) were done (their outputs are complete in {}, \
             listed above); {failed} failed and {not_started} were not started. Run the same \
             command with --skip-existing to do the rest.",
            frames.len(),
            out.display()
        );
        (ExitCode::from(3), None)
    })
}

/// Prints each dispatch's time for one frame: GPU timestamps, or on a CPU adapter (lavapipe, whose
/// timestamps miss storage-texture work) the wall time of each dispatch submitted alone.
fn print_profile(unet: &mut Unet, path: &Path, cpu_adapter: bool) -> emunet::Result<()> {
    let frame = load_frame(path, None)?;
    let (times, what) = if cpu_adapter {
        (
            unet.profile_wall(&frame)?,
            "Wall time per dispatch, each submitted alone",
        )
    } else {
        (unet.profile(&frame)?, "GPU time per dispatch")
    };
    let line = |label: &str, seconds: f64, flops: u64| {
        println!(
            "  {label:<28} {:>9.3} ms  {:>7.2} GFLOP/s",
            seconds * 1e3,
            flops as f64 / seconds.max(1e-12) / 1e9
        )
    };
    println!("{what} ({}):", path.display());
    for t in &times {
        line(&t.label, t.seconds, t.flops);
    }
    let total: f64 = times.iter().map(|t| t.seconds).sum();
    line("total", total, times.iter().map(|t| t.flops).sum());
    Ok(())
}

/// The CPU stage of one segmented frame: clusters (split at grains), the files, the line to print.
fn finish_one(
    path: &Path,
    raw: &Frame,
    seg: &emunet::unet::Segmentation,
    out: &Path,
    outputs: SegmentOutputs,
) -> emunet::Result<(String, f64, Vec<clusters::Cluster>)> {
    // With a flat-field the GPU corrected the frame; the clusters are measured on its result.
    let frame = seg.corrected.as_ref().unwrap_or(raw);
    let stem = stem_of(path);
    let mask = seg.mask();
    let on = mask.iter().filter(|&&v| v != 0).count();
    let map = emunet::cluster_list::frame_clusters(frame, &mask, outputs.split);
    let found = &map.clusters;
    if outputs.csv {
        clusters::write_csv(&OutputFile::Csv.path(out, &stem), found)?;
    }
    if outputs.json {
        clusters::write_json(&OutputFile::Json.path(out, &stem), found)?;
    }
    if outputs.overlay {
        emunet::overlay::write_overlay(&OutputFile::Overlay.path(out, &stem), frame, &map)?;
    }
    let pieces = map.split.iter().filter(|&&s| s).count();
    if outputs.maps {
        Frame::from_u8(seg.width, seg.height, mask)?
            .save_png(&OutputFile::Mask.path(out, &stem))?;
        emunet::npy::write(
            &OutputFile::Prob.path(out, &stem),
            &seg.prob,
            seg.height,
            seg.width,
        )?;
    }
    let ms = seg.elapsed.as_secs_f64() * 1e3;
    let line = format!(
        "{}: {}×{} {}-bit, {:.1} ms ({:?} engine){}, mask {:.2} % of pixels, {} clusters{}",
        path.display(),
        seg.width,
        seg.height,
        frame.bits(),
        ms,
        seg.engine,
        if seg.tiles > 1 {
            format!(" ({} tiles)", seg.tiles)
        } else {
            String::new()
        },
        100.0 * on as f64 / (seg.width * seg.height) as f64,
        found.len(),
        if outputs.split {
            format!(" ({pieces} of them pieces of split clusters)")
        } else {
            String::new()
        }
    );
    let d = seg.dark_edges;
    let line = match d.is_empty() {
        true => line,
        false => format!(
            "{line}; dark edge lines cleared: {} top, {} bottom, {} left, {} right",
            d.top, d.bottom, d.left, d.right
        ),
    };
    Ok((line, ms, map.clusters))
}
