//! `emunet classic`: the classical station pipeline (equalise, FIR filter, threshold, border,
//! clusters, area cuts) on the GPU, or its CPU reference.

use crate::common::{
    OutputFile, choice, collect_frames, create_dir, for_each_frame, load_frame, stem_of,
    write_clusters,
};
use emunet::clusters::Connectivity;
use emunet::clusters_gpu::Labelling;
use emunet::flatfield::FlatField;
use emunet::{Context, Frame};
use emunet_tools::classic::{Classic, ClassicParams, FilterKernel, ThresholdRule};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `emunet classic`'s options.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    pub out: PathBuf,
    /// The FIR filter: fedra6x6 (FEDRA's 6×6: outer ring +4, inner 4×4 −5), laplace3x3 (3×3
    /// Laplacian), ring5x5 (ring +4, inner 3×3 −7, centre −8) or hat5x5 (5×5 Mexican hat).
    #[arg(long, value_parser = choice::<FilterKernel>(), default_value_t = FilterKernel::Fedra6x6)]
    pub kernel: FilterKernel,
    /// Fixed threshold on the filter response (default 50, FEDRA's online default).
    #[arg(long, conflicts_with = "target_clusters")]
    pub threshold: Option<f32>,
    /// Tune the threshold per frame to about this many clusters of area ≥ 4.
    #[arg(long)]
    pub target_clusters: Option<usize>,
    /// Pixels ignored along every edge.
    #[arg(long, default_value_t = 4)]
    pub border: usize,
    /// Smallest cluster kept, in pixels.
    #[arg(long, default_value_t = 2)]
    pub min_area: usize,
    /// Largest cluster kept, in pixels.
    #[arg(long, default_value_t = 64)]
    pub max_area: usize,
    /// Which neighbours join a cluster: four (edge neighbours, FEDRA's flood fill) or eight
    /// (edges and corners, the SySal GPU code).
    #[arg(long, value_parser = choice::<Connectivity>(), default_value_t = Connectivity::Eight)]
    pub connectivity: Connectivity,
    /// Run the CPU reference instead of the GPU shaders.
    #[arg(long)]
    pub cpu: bool,
    /// Where the GPU pipeline labels the mask and measures the clusters (identical results):
    /// gpu (only the cluster table is read back), host, or auto (the GPU on a hardware
    /// adapter, the host on a software driver, where it is faster).
    #[arg(long, value_parser = choice::<Labelling>(), default_value_t = Labelling::Auto)]
    pub labelling: Labelling,
    /// Also write DIR/<stem>.clusters.json.
    #[arg(long)]
    pub json: bool,
    /// Take the camera's fixed pattern out of every frame first (a file from `emunet
    /// flatfield`).
    #[arg(long)]
    pub flatfield: Option<PathBuf>,
    /// Frames (PNG or TIFF, 8/16-bit) or folders of frames.
    #[arg(required = true)]
    pub frames: Vec<PathBuf>,
}

/// Runs the pipeline on every frame: DIR/<stem>.mask.png and DIR/<stem>.clusters.csv.
pub fn run(args: Args) -> emunet::Result<ExitCode> {
    let threshold = match (args.threshold, args.target_clusters) {
        (_, Some(n)) => ThresholdRule::TargetClusters(n),
        (Some(t), None) => ThresholdRule::Fixed(t),
        (None, None) => ThresholdRule::Fixed(emunet_tools::classic::DEFAULT_THRESHOLD),
    };
    let params = ClassicParams {
        kernel: args.kernel,
        threshold,
        border: args.border,
        min_area: args.min_area,
        max_area: args.max_area,
        connectivity: args.connectivity,
        equalise: true,
    };
    // Where the GPU pipeline labels, or None for the CPU reference.
    let gpu = (!args.cpu).then_some(args.labelling);
    let Args {
        out,
        json,
        flatfield,
        frames: inputs,
        ..
    } = args;
    let flat = flatfield.as_deref().map(FlatField::load).transpose()?;
    let frames = collect_frames(&inputs);
    if frames.is_empty() {
        eprintln!("error: no PNG or TIFF frames found in {inputs:?}");
        return Ok(ExitCode::FAILURE);
    }
    create_dir(&out)?;
    let mut gpu = match gpu {
        None => {
            eprintln!("classical pipeline on the CPU (reference implementation)");
            None
        }
        Some(labelling) => {
            let ctx = Arc::new(Context::new()?);
            eprintln!(
                "classical pipeline on {} ({:?}), labelling on the {}",
                ctx.info.name,
                ctx.info.backend,
                if labelling.on_gpu(&ctx) {
                    "GPU"
                } else {
                    "host"
                }
            );
            let mut classic = Classic::new(ctx, params);
            classic.set_flatfield(flat.as_ref());
            classic.set_labelling(labelling);
            Some(classic)
        }
    };
    let code = for_each_frame(&frames, "processed", |path| {
        // The GPU pipeline takes the flat-field out itself; the CPU reference reads it corrected.
        let result = match gpu.as_mut() {
            Some(g) => g.run(&load_frame(path, None)?)?,
            None => {
                emunet_tools::classic::reference::run(&load_frame(path, flat.as_ref())?, &params)
            }
        };
        let stem = stem_of(path);
        Frame::from_u8(result.width, result.height, result.mask.clone())?
            .save_png(&OutputFile::Mask.path(&out, &stem))?;
        write_clusters(&out, &stem, &result.clusters, json)?;
        let ms = result.elapsed.as_secs_f64() * 1e3;
        Ok((
            format!(
                "{}: {}×{}, {:.1} ms, threshold {:.2}, {} clusters",
                path.display(),
                result.width,
                result.height,
                ms,
                result.threshold,
                result.clusters.len()
            ),
            ms,
        ))
    });
    Ok(code)
}
