//! The layer above the emunet engine: everything a lab does around segmentation.
//!
//! - [`simulate`]: emulsion frames with exact truth (presets, focal stacks);
//! - [`classic`]: the classical station pipeline (FIR filter, threshold, clusters) on the GPU;
//! - [`eval`]: scores against truth (Jaccard, cluster efficiency and purity);
//! - [`stacks`]: focal stacks as a whole (3D grains, microtracks) and their scores;
//! - [`training`]: training runs (simulated or recorded data, augmentation, validation,
//!   checkpoints, curves) over the engine's GPU training step;
//! - [`formats`]: cluster tables for plate-scale runs (Parquet, ROOT) and shards of frame lists;
//! - [`mod@bench`]: the engine's benchmark on a simulated frame (`emunet bench`).

pub mod bench;
pub mod classic;
pub mod eval;
pub mod formats;
pub mod simulate;
pub mod stacks;
pub mod station_filter;
pub mod training;

pub use training::{curves, data, trainer};
