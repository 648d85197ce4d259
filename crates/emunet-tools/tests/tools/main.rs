//! The tools above the engine: simulator, classical pipeline, GPU clusters, flat-field, fused
//! engine on simulated frames, eval, training runs.

#[path = "../../../emunet/tests/common/mod.rs"]
mod common;

mod classic;
mod clusters_gpu;
mod curves;
mod data;
mod eval;
mod flatfield;
mod fused;
mod simulate;
mod trainer;
