//! A view's focal stack as a whole: clusters of consecutive planes linked into 3D grains
//! ([`grains`]), grains into microtracks ([`tracks`]), scored against the simulator's truth
//! ([`scores`]).

pub mod grains;
pub mod scores;
pub mod tracks;

use emunet::error::{Error, Result};
use std::path::Path;

/// The manifest a stack folder may hold (`stack.json`, written by `emunet simulate
/// --frames-per-view K`): pixel size and the depth of each plane, in µm.
pub const MANIFEST: &str = "stack.json";

/// Reads `dir/stack.json` when it exists.
pub fn read_manifest(dir: &Path) -> Result<Option<grains::StackGeometry>> {
    let path = dir.join(MANIFEST);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let geometry: grains::StackGeometry = serde_json::from_str(&text)
        .map_err(|e| Error::Shape(format!("{}: {e}", path.display())))?;
    if !(geometry.pixel_um > 0.0 && geometry.pixel_um.is_finite())
        || geometry.planes_um.iter().any(|z| !z.is_finite())
    {
        return Err(Error::Shape(format!(
            "{}: pixel_um must be positive and planes_um finite",
            path.display()
        )));
    }
    Ok(Some(geometry))
}

/// A frame name's view and plane: `v0003_z07` → ("v0003", 7); other names have no plane.
pub fn view_and_plane(stem: &str) -> (String, Option<usize>) {
    if let Some((view, plane)) = stem.rsplit_once("_z")
        && let Ok(k) = plane.parse::<usize>()
    {
        return (view.to_string(), Some(k));
    }
    (stem.to_string(), None)
}
