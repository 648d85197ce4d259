//! emunet: a small, fast GPU engine (Rust + hand-written WGSL compute shaders on wgpu) that finds
//! clusters — developed silver grains — in microscope frames of nuclear emulsion with a U-Net.
//!
//! - [`gpu::Context`] opens the best adapter; [`kernels`] holds one wrapper per shader;
//! - [`nn`]: [`mod@reference`] is the plain CPU reference of every kernel and of the whole network,
//!   [`model::Model`] reads and writes the safetensors weights contract, [`unet::Unet`] runs the
//!   network on frames ([`frame::Frame`]) of any size;
//! - [`emulsion`]: frames, the simulator, the classical pipeline, clusters, scores;
//! - [`training`]: training on the GPU.

pub mod bench;
pub mod emulsion;
pub mod error;
pub mod formats;
pub mod gpu;
pub mod kernels;
pub mod nn;
pub mod stacks;
pub mod training;

// The layers' modules at the crate root too (`emunet::clusters`, `crate::unet`, …).
pub use emulsion::{
    classic, cluster_list, clusters, clusters_gpu, deblend, eval, flatfield, frame, npy, overlay,
    simulate, split, spotfit, subpixel, table,
};
pub use nn::{fused, layout, model, reference, stream, unet};
pub use training::{curves, data, train, trainer};

pub use error::{Error, Result};
pub use frame::Frame;
pub use gpu::Context;
pub use model::Model;
pub use unet::{Segmentation, Unet};
