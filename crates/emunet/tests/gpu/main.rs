//! GPU kernels and the network against their CPU references, on the adapter `Context::new` picks.
//! One binary (one device, one link) for every GPU test of the engine; fails, never skips, without
//! an adapter.

#[path = "../common/mod.rs"]
mod common;

mod conv3x3;
mod edges;
mod grad_kernels;
mod head1x1;
mod maxpool2x2;
mod normalize;
mod pipeline_cache;
mod pixel_scale;
mod shaders;
mod train_step;
mod unet;
mod upconv2x2;
