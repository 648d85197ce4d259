//! Training on the GPU: the training folder ([`data`]), one step's forward, loss, backward and
//! Adam ([`train`]), the epoch loop with validation, checkpoints and resume ([`trainer`]), and the
//! learning curves picture ([`curves`]).

pub mod curves;
pub mod data;
pub mod train;
pub mod trainer;
