//! A cluster table as a ROOT file: one TTree `clusters`, a branch per column (`Int_t` counts and
//! indices, `Double_t` positions and moments, strings for the frame's name and view), written
//! with the `oxyroot` crate (uncompressed: the only kind it writes).

use super::{FrameClusters, Values, columns};
use emunet::error::{Error, Result};
use oxyroot::{RootFile, WriterTree};
use std::path::Path;

/// The tree's name.
pub const TREE: &str = "clusters";

/// Writes the table to `path` atomically (a temporary file in the same folder, then a rename).
pub fn write(path: &Path, frames: &[FrameClusters]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    let failed = |message: String| Error::Table {
        path: path.to_path_buf(),
        message,
    };
    let mut file = RootFile::create(tmp.path()).map_err(|e| failed(e.to_string()))?;
    let mut tree = WriterTree::new(TREE);
    for (name, values) in columns(frames) {
        match values {
            Values::Int(v) => tree.new_branch(name, v.into_iter()),
            Values::Float(v) => tree.new_branch(name, v.into_iter()),
            Values::Text(v) => tree.new_branch(name, v.into_iter()),
        }
    }
    tree.write(&mut file).map_err(|e| failed(e.to_string()))?;
    file.close().map_err(|e| failed(e.to_string()))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}
