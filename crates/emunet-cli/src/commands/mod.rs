//! One module per command: its `Args` (options, with their help) and its `run`.

pub mod bench;
pub mod classic;
pub mod eval;
pub mod flatfield;
pub mod grains;
pub mod info;
pub mod init;
pub mod segment;
pub mod simulate;
mod stack_eval;
pub mod tracks;
pub mod train;
