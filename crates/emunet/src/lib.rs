//! emunet: a small, fast GPU engine (Rust + hand-written WGSL compute shaders on wgpu) that finds
//! clusters — developed silver grains — in microscope frames of nuclear emulsion with a U-Net.
//!
//! - [`gpu::Context`] opens the best adapter; [`kernels`] holds one wrapper per shader;
//! - [`nn`]: [`mod@reference`] is the plain CPU reference of every kernel and of the whole network,
//!   [`model::Model`] reads and writes the safetensors weights contract, [`unet::Unet`] runs the
//!   network on frames ([`frame::Frame`]) of any size;
//! - [`emulsion`]: frames, the flat-field correction, clusters and their tables;
//! - [`train`]: one training step on the GPU (forward, loss, backward, Adam).
//!
//! The simulator, the classical pipeline, scores, focal stacks, training runs and cluster tables
//! for plate-scale runs are in the `emunet-tools` crate; the `emunet` command line in
//! `emunet-cli`.
//!
//! Segment a frame with the shipped model and list its clusters:
//!
//! ```
//! use emunet::{Context, Frame, Model, Unet, cluster_list};
//! use std::sync::Arc;
//!
//! # fn main() -> emunet::Result<()> {
//! let ctx = Arc::new(Context::new()?); // the best adapter: a GPU before a CPU driver
//! let mut unet = Unet::new(ctx, &Model::shipped()?)?; // weights packed and uploaded once
//! // A 64×48 8-bit frame with one dark grain; Frame::load reads PNG and TIFF files.
//! let mut pixels = vec![200u8; 64 * 48];
//! for (x, y) in [(30, 20), (31, 20), (30, 21), (31, 21)] {
//!     pixels[y * 64 + x] = 90;
//! }
//! let frame = Frame::from_u8(64, 48, pixels)?;
//! let seg = unet.segment(&frame)?; // probabilities and the mask, on the GPU
//! assert_eq!(seg.prob.len(), 64 * 48);
//! // Clusters split at separate grains, with sub-pixel positions, as `emunet segment` writes.
//! let clusters = cluster_list::frame_clusters(&frame, &seg.mask(), true).clusters;
//! for c in &clusters {
//!     println!("cluster {} at ({:.2}, {:.2}), {} px", c.id, c.x, c.y, c.area);
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod choice;
pub mod emulsion;
pub mod error;
pub mod gpu;
pub mod kernels;
pub mod nn;
pub mod train;

// The layers' modules at the crate root too (`emunet::clusters`, `crate::unet`, …).
pub use emulsion::{
    cluster_list, clusters, clusters_gpu, deblend, edges, flatfield, frame, npy, overlay, scale,
    split, spotfit, subpixel, table,
};
pub use nn::{fused, layout, model, reference, stream, unet};

pub use choice::Choice;
pub use error::{Error, Result};
pub use frame::Frame;
pub use gpu::Context;
pub use model::Model;
pub use unet::{Segmentation, Unet};
