//! The `emunet` binary under bad input and faults: malformed files, a full disk, kills and
//! resumption, GPU faults, and the soak (ignored by default: `cargo test --test robustness --
//! --ignored soak::`).

#[path = "../../../emunet/tests/common/mod.rs"]
mod common;

mod full_disk;
mod gpu_faults;
mod interrupted;
mod malformed;
mod soak;
