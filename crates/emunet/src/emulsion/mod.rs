//! Emulsion frames and what is found in them: frames and their files ([`frame`], [`npy`]), the
//! camera's flat-field ([`flatfield`]), clusters on the CPU and the GPU ([`clusters`],
//! [`clusters_gpu`]) and the cluster list `segment` writes ([`cluster_list`], with [`split`],
//! [`deblend`], [`spotfit`], [`subpixel`]), the CSV tables ([`table`]) and pictures ([`overlay`]).

pub mod cluster_list;
pub mod clusters;
pub mod clusters_gpu;
pub mod deblend;
pub mod edges;
pub mod flatfield;
pub mod frame;
pub mod npy;
pub mod overlay;
pub mod scale;
pub mod split;
pub mod spotfit;
pub mod subpixel;
pub mod table;
