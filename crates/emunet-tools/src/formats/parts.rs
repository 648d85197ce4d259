//! One part of a plate-scale job: a list of frames segmented by one engine and their clusters
//! written as one table (Parquet or ROOT), atomically. A frame that cannot be read or segmented
//! is reported in the summary and left out; a device fault ends the part with an error (the
//! scheduler retries it; the table is written whole or not at all).

use super::{FrameClusters, TableFormat, write_table};
use emunet::error::Result;
use emunet::frame::Frame;
use emunet::unet::Unet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How many frames of one size go through one GPU submit.
const BATCH: usize = 8;

/// What a part did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PartSummary {
    /// Frames in the part, frames whose clusters are in the table, clusters in the table.
    pub frames: usize,
    pub done: usize,
    pub clusters: usize,
    /// Frames left out, each with the reason.
    pub failed: Vec<(String, String)>,
    /// Wall time of the part: decoding, GPU, clusters, the table.
    pub seconds: f64,
}

/// Segments `frames` (each with its index in the whole job's frame list) and writes their
/// clusters to `table` as one table.
pub fn segment_part(
    unet: &mut Unet,
    frames: &[(usize, PathBuf)],
    table: &Path,
    format: TableFormat,
) -> Result<PartSummary> {
    let start = Instant::now();
    let mut summary = PartSummary {
        frames: frames.len(),
        ..Default::default()
    };
    let mut rows = Vec::with_capacity(frames.len());
    let mut failed = |path: &Path, e: &emunet::Error| {
        summary
            .failed
            .push((path.display().to_string(), e.to_string()));
    };
    // Decoded frames wait here, with their indices and paths, until a batch of one size is full.
    let mut waiting: Vec<Frame> = Vec::with_capacity(BATCH);
    let mut waiting_from: Vec<(usize, &Path)> = Vec::with_capacity(BATCH);
    let mut run_batch = |waiting: &mut Vec<Frame>,
                         waiting_from: &mut Vec<(usize, &Path)>,
                         rows: &mut Vec<FrameClusters>,
                         failed: &mut dyn FnMut(&Path, &emunet::Error)|
     -> Result<()> {
        let segs = match unet.segment_batch(waiting) {
            Ok(segs) => segs.into_iter().map(Ok).collect(),
            Err(e) if e.is_device_fault() => return Err(e),
            // One frame's fault fails the batch: find which, one by one.
            Err(_) => waiting.iter().map(|f| unet.segment(f)).collect::<Vec<_>>(),
        };
        for (((index, path), frame), seg) in waiting_from.drain(..).zip(waiting.drain(..)).zip(segs)
        {
            match seg {
                Ok(seg) => rows.push(FrameClusters {
                    frame: index,
                    name: stem_of(path),
                    clusters: seg.cluster_list(&frame),
                }),
                Err(e) if e.is_device_fault() => return Err(e),
                Err(e) => failed(path, &e),
            }
        }
        Ok(())
    };
    for (index, path) in frames {
        let frame = match Frame::load(path) {
            Ok((frame, _warnings)) => frame,
            Err(e) => {
                failed(path, &e);
                continue;
            }
        };
        let key = |f: &Frame| (f.width, f.height, f.bits());
        if waiting.len() == BATCH || waiting.first().is_some_and(|w| key(w) != key(&frame)) {
            run_batch(&mut waiting, &mut waiting_from, &mut rows, &mut failed)?;
        }
        waiting.push(frame);
        waiting_from.push((*index, path));
    }
    run_batch(&mut waiting, &mut waiting_from, &mut rows, &mut failed)?;
    // Rows in frame order whatever the batching did.
    rows.sort_by_key(|r| r.frame);
    write_table(table, format, &rows)?;
    summary.done = rows.len();
    summary.clusters = rows.iter().map(|r| r.clusters.len()).sum();
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

/// A frame's name in tables and output files: its file name without the extension.
pub fn stem_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "frame".into())
}
