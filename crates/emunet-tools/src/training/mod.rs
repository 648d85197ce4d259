//! Training runs on the GPU: data from the simulator or a folder of frame/mask pairs
//! ([`data`]), the loop with validation, checkpoints and resumption ([`trainer`]) over the
//! engine's training step (`emunet::train`), and the training curves ([`curves`]).

pub mod curves;
pub mod data;
pub mod trainer;
