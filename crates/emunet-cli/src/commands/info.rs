//! `emunet info`: the adapter emunet picks, its limits and optional features.

use emunet::Context;
use std::process::ExitCode;

/// Prints the adapter's description.
pub fn run() -> emunet::Result<ExitCode> {
    let ctx = Context::new()?;
    println!("{}", ctx.describe());
    Ok(ExitCode::SUCCESS)
}
