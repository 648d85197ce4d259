//! Segment one frame with the shipped model and print its clusters.
//!
//! cargo run --release --example segment_frame -- tests/data/sample_frame.png

use emunet::{Context, Frame, Model, Unet, cluster_list};
use std::sync::Arc;

fn main() -> emunet::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or("tests/data/sample_frame.png".into());
    let ctx = Arc::new(Context::new()?); // the best adapter: a GPU before a CPU driver
    let mut unet = Unet::new(ctx, &Model::shipped()?)?; // weights packed and uploaded once
    let (frame, _warnings) = Frame::load(path.as_ref())?; // 8/16-bit PNG or TIFF
    let seg = unet.segment(&frame)?; // seg.prob: H×W probabilities; seg.mask(): 0/255
    // Clusters split at separate grains, with sub-pixel positions (what `emunet segment` writes).
    let found = cluster_list::frame_clusters(&frame, &seg.mask(), true).clusters;
    println!("{path}: {} clusters in {:.1?}", found.len(), seg.elapsed);
    for c in found.iter().take(5) {
        println!("  #{} at ({:.2}, {:.2}), {} px", c.id, c.x, c.y, c.area);
    }
    Ok(())
}
