//! The network: the weights contract ([`model`]), the CPU reference of every op and of the whole
//! U-Net ([`mod@reference`]) with the packing between its layouts and the GPU's ([`layout`]), and
//! inference on the GPU: the per-operation and fused engines ([`unet`], [`fused`]) and streaming
//! ([`stream`]).

pub mod fused;
pub mod layout;
pub mod model;
pub mod reference;
pub mod stream;
pub mod unet;
