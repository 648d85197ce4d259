//! Cluster tables of many frames in one file, for plate-scale runs: Parquet (pandas, Spark,
//! pyarrow) and ROOT trees (ROOT, FEDRA, uproot). Both hold the same columns: where the row's
//! frame is (`frame`: its index in the run's frame list; `name`: its file stem; `view` and
//! `plane` when the name is `<view>_z<plane>`, else "" and −1), then every field of the clusters
//! CSV contract with the CSV's values (floats to its 4 decimals), so a table equals the CSV
//! files value for value.

pub mod parquet_table;
pub mod parts;
pub mod root_table;

use emunet::clusters::Cluster;
use emunet::error::Result;
use std::path::Path;

/// The columns of a cluster table, in order.
pub const COLUMNS: [&str; 21] = [
    "frame", "name", "view", "plane", "id", "x", "y", "area", "volume", "cog_x", "cog_y", "peak",
    "peak_x", "peak_y", "x0", "y0", "x1", "y1", "mxx", "mxy", "myy",
];

/// A file format for many frames' clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    Parquet,
    Root,
}

impl TableFormat {
    /// The file name suffix.
    pub fn extension(self) -> &'static str {
        match self {
            TableFormat::Parquet => "parquet",
            TableFormat::Root => "root",
        }
    }
}

/// One frame's clusters and where the frame is.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameClusters {
    /// The frame's index in the run's (or job's) frame list: unique across shards and parts.
    pub frame: usize,
    /// The frame's file stem.
    pub name: String,
    pub clusters: Vec<Cluster>,
}

impl FrameClusters {
    /// (view, plane) from a `<view>_z<plane>` name, else ("", −1).
    pub fn view_and_plane(&self) -> (String, i32) {
        match crate::stacks::view_and_plane(&self.name) {
            (view, Some(plane)) => (view, plane as i32),
            _ => (String::new(), -1),
        }
    }
}

/// One column's values, every row a cluster.
pub(crate) enum Values {
    Int(Vec<i32>),
    Float(Vec<f64>),
    Text(Vec<String>),
}

/// A float as the clusters CSV writes it and a reader parses it back.
fn as_in_csv(v: f64) -> f64 {
    format!("{v:.4}")
        .parse()
        .expect("a formatted number parses")
}

/// The table's columns in [`COLUMNS`] order.
pub(crate) fn columns(frames: &[FrameClusters]) -> Vec<(&'static str, Values)> {
    let rows: usize = frames.iter().map(|f| f.clusters.len()).sum();
    let mut out: Vec<(&'static str, Values)> = COLUMNS
        .iter()
        .map(|&name| {
            let values = match name {
                "name" | "view" => Values::Text(Vec::with_capacity(rows)),
                "frame" | "plane" | "id" | "area" | "x0" | "y0" | "x1" | "y1" => {
                    Values::Int(Vec::with_capacity(rows))
                }
                _ => Values::Float(Vec::with_capacity(rows)),
            };
            (name, values)
        })
        .collect();
    for f in frames {
        let (view, plane) = f.view_and_plane();
        for k in &f.clusters {
            for (name, values) in out.iter_mut() {
                match values {
                    Values::Text(v) => v.push(if *name == "name" {
                        f.name.clone()
                    } else {
                        view.clone()
                    }),
                    Values::Int(v) => v.push(match *name {
                        "frame" => f.frame as i32,
                        "plane" => plane,
                        "id" => k.id as i32,
                        "area" => k.area as i32,
                        "x0" => k.x0 as i32,
                        "y0" => k.y0 as i32,
                        "x1" => k.x1 as i32,
                        _ => k.y1 as i32,
                    }),
                    Values::Float(v) => v.push(as_in_csv(match *name {
                        "x" => k.x,
                        "y" => k.y,
                        "volume" => k.volume,
                        "cog_x" => k.cog_x,
                        "cog_y" => k.cog_y,
                        "peak" => k.peak,
                        "peak_x" => k.peak_x,
                        "peak_y" => k.peak_y,
                        "mxx" => k.mxx,
                        "mxy" => k.mxy,
                        _ => k.myy,
                    })),
                }
            }
        }
    }
    out
}

/// Writes the frames' clusters to `path` as one table, atomically (a temporary file in the same
/// folder, then a rename).
pub fn write_table(path: &Path, format: TableFormat, frames: &[FrameClusters]) -> Result<()> {
    match format {
        TableFormat::Parquet => parquet_table::write(path, frames),
        TableFormat::Root => root_table::write(path, frames),
    }
}
