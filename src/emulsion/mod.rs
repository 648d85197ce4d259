//! Emulsion frames and what is found in them: frames and their files ([`frame`], [`npy`]), the
//! simulator with exact truth ([`simulate`]), the camera's flat-field ([`flatfield`]), the classical
//! station pipeline ([`classic`]), clusters on the CPU and the GPU ([`clusters`], [`clusters_gpu`])
//! and the cluster list `segment` writes ([`cluster_list`], with [`split`], [`deblend`],
//! [`spotfit`], [`subpixel`]), scores against truth ([`eval`]) and pictures ([`overlay`]).

pub mod classic;
pub mod cluster_list;
pub mod clusters;
pub mod clusters_gpu;
pub mod deblend;
pub mod eval;
pub mod flatfield;
pub mod frame;
pub mod npy;
pub mod overlay;
pub mod simulate;
pub mod split;
pub mod spotfit;
pub mod subpixel;
pub mod table;
