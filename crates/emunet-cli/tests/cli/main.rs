//! The `emunet` binary: commands, the shipped model, focal stacks, cluster tables and shards.

#[path = "../../../emunet/tests/common/mod.rs"]
mod common;

mod cli;
mod formats;
mod grains;
mod shipped_model;
