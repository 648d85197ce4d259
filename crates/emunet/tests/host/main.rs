//! The engine's host-side code: the CPU reference against finite differences, clusters, splitting,
//! frames, weights files, and mutated inputs that must be refused cleanly.

#[path = "../common/mod.rs"]
mod common;

mod clusters;
mod frames;
mod grad_reference;
mod layouts;
mod mutations;
mod split;
mod weights;
