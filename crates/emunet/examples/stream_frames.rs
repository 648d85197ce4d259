//! Stream frames through the GPU as a camera loop would: submit returns at once, poll hands back
//! finished frames in order, up to `max_in_flight` frames on the GPU together.
//!
//! cargo run --release --example stream_frames -- FRAME...

use emunet::{Context, Frame, Model, Unet};
use std::sync::Arc;

fn main() -> emunet::Result<()> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let ctx = Arc::new(Context::new()?);
    let mut unet = Unet::new(ctx, &Model::shipped()?)?;
    let mut names = std::collections::HashMap::new();
    for path in &paths {
        let (frame, _) = Frame::load(path.as_ref())?;
        // Full ring: wait for the oldest frame before submitting the next.
        if names.len() == unet.max_in_flight() {
            report(&mut names, unet.poll(true)?);
        }
        names.insert(unet.submit(&frame)?, path.clone());
    }
    while !names.is_empty() {
        report(&mut names, unet.poll(true)?);
    }
    Ok(())
}

fn report(
    names: &mut std::collections::HashMap<u64, String>,
    done: Option<(u64, emunet::Segmentation)>,
) {
    if let Some((ticket, seg)) = done {
        let on = seg.mask().iter().filter(|&&m| m != 0).count();
        println!(
            "{}: {on} mask pixels",
            names.remove(&ticket).unwrap_or_default()
        );
    }
}
