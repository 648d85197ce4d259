//! emunet: a small, fast GPU engine (Rust + hand-written WGSL compute shaders on wgpu) that finds
//! clusters — developed silver grains — in microscope frames of nuclear emulsion with a U-Net.
//!
//! - [`gpu::Context`] opens the best adapter; [`kernels`] holds one wrapper per shader;
//! - [`reference`] is the plain CPU reference of every kernel and of the whole network;
//! - [`model::Model`] reads and writes the safetensors weights contract;
//! - [`unet::Unet`] runs the network on frames ([`frame::Frame`]) of any size.

pub mod bench;
pub mod classic;
pub mod cluster_list;
pub mod clusters;
pub mod clusters_gpu;
pub mod curves;
pub mod data;
pub mod deblend;
pub mod error;
pub mod eval;
pub mod flatfield;
pub mod frame;
pub mod fused;
pub mod gpu;
pub mod kernels;
pub mod layout;
pub mod model;
pub mod npy;
pub mod overlay;
pub mod reference;
pub mod simulate;
pub mod split;
pub mod spotfit;
pub mod stream;
pub mod subpixel;
pub mod train;
pub mod trainer;
pub mod unet;

pub use error::{Error, Result};
pub use frame::Frame;
pub use gpu::Context;
pub use model::Model;
pub use unet::{Segmentation, Unet};
