//! `emunet simulate`: emulsion-like frames with exact truth (images, truth masks, the classical
//! pipeline's masks, grains.csv; a stack.json for focal stacks).

use crate::common::{at_least_one, choice, create_dir, positive, progress_bar};
use emunet::Frame;
use emunet::clusters::{self, Connectivity};
use emunet_tools::classic::ClassicParams;
use emunet_tools::simulate::{self, Preset, SimParams, View};
use emunet_tools::station_filter::StationFilter;
use std::path::PathBuf;
use std::process::ExitCode;

/// `emunet simulate`'s options.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    pub out: PathBuf,
    /// Number of views (each of --frames-per-view focal planes).
    #[arg(long, value_parser = at_least_one, default_value_t = 1)]
    pub count: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_parser = choice::<Preset>(), default_value_t = Preset::Nominal)]
    pub preset: Preset,
    /// Frame width in pixels (default 1280).
    #[arg(long)]
    pub width: Option<usize>,
    /// Frame height in pixels (default 1024).
    #[arg(long)]
    pub height: Option<usize>,
    /// Pixel size in µm (default: the preset's, 0.30; mixed draws 0.28–0.36 per view). Grains,
    /// blur and depth of field keep their sizes in µm, so they span more or fewer pixels.
    #[arg(long, value_parser = positive)]
    pub pixel_um: Option<f64>,
    /// A station's frame filter applied to every image (the truth unchanged; the classical
    /// mask made from the filtered image): gaussian:SIGMA (px), box:N or median:N (odd N).
    #[arg(long)]
    pub filter: Option<StationFilter>,
    /// Focal planes per view, 2.9 µm apart (1: single frames at random depths).
    #[arg(long, value_parser = at_least_one, default_value_t = 1)]
    pub frames_per_view: usize,
}

/// Renders every view's planes and writes them with their truth.
pub fn run(args: Args) -> emunet::Result<ExitCode> {
    let Args {
        out,
        count,
        seed,
        preset,
        width,
        height,
        pixel_um,
        filter,
        frames_per_view,
    } = args;
    let classic_params = &ClassicParams::default();
    let mut params = SimParams::preset(preset);
    params.width = width.unwrap_or(params.width);
    params.height = height.unwrap_or(params.height);
    if let Some(um) = pixel_um {
        params.pixel_um = um;
        params.pixel_um_fixed = true;
    }
    params.check()?;
    for sub in ["images", "masks", "masks_classic"] {
        create_dir(&out.join(sub))?;
    }
    let total = count * frames_per_view;
    let bar = progress_bar(total as u64, "frames");
    let start = std::time::Instant::now();
    let mut csv = String::from(simulate::GRAINS_CSV_HEADER);
    csv.push('\n');
    let (mut in_focus, mut truth_clusters, mut truth_px) = (0usize, 0usize, 0usize);
    for view in 0..count {
        let mut v = View::new(&params, seed, view as u64)?;
        let planes = simulate::focal_planes(&params, seed, view as u64, frames_per_view);
        for (plane, z) in planes.into_iter().enumerate() {
            let name = simulate::frame_name(view, plane, frames_per_view);
            let mut f = v.render(name.clone(), z);
            if let Some(filter) = filter {
                f.image = filter.apply(&f.image);
            }
            f.image
                .save_png(&out.join("images").join(format!("{name}.png")))?;
            Frame::from_u8(params.width, params.height, f.truth.clone())?
                .save_png(&out.join("masks").join(format!("{name}.png")))?;
            let classic = emunet_tools::classic::reference::run(&f.image, classic_params);
            Frame::from_u8(params.width, params.height, classic.mask)?
                .save_png(&out.join("masks_classic").join(format!("{name}.png")))?;
            csv.push_str(&simulate::grains_csv_rows(&f));
            in_focus += f.grains.iter().filter(|g| g.in_focus).count();
            truth_clusters +=
                clusters::label(&f.truth, params.width, params.height, Connectivity::Eight).1;
            truth_px += f.truth.iter().filter(|&&t| t != 0).count();
            bar.inc(1);
        }
    }
    emunet::model::write_atomic(&out.join("grains.csv"), csv.as_bytes())?;
    if frames_per_view > 1 {
        // The planes' depths for `emunet grains` (the same in every view).
        let geometry = emunet_tools::stacks::grains::StackGeometry {
            pixel_um: params.pixel_um,
            planes_um: simulate::focal_planes(&params, seed, 0, frames_per_view),
        };
        let json = serde_json::to_string_pretty(&geometry).expect("plain numbers serialise");
        emunet::model::write_atomic(
            &out.join("images").join(emunet_tools::stacks::MANIFEST),
            json.as_bytes(),
        )?;
    }
    bar.finish_and_clear();
    let n = total as f64;
    println!(
        "wrote {total} {}×{} frame(s) ({preset:?}, seed {seed}) to {} in {:.1} s: per frame {:.0} in-focus grains, {:.0} truth clusters, {:.2} % truth pixels",
        params.width,
        params.height,
        out.display(),
        start.elapsed().as_secs_f64(),
        in_focus as f64 / n,
        truth_clusters as f64 / n,
        100.0 * truth_px as f64 / (n * (params.width * params.height) as f64)
    );
    Ok(ExitCode::SUCCESS)
}
