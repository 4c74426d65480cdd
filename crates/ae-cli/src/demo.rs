//! `ae demo manifold`: PCA against a 1-D autoencoder on a noisy parabola and a helix.

use ae_backend::BackendChoice;
use anyhow::{Result, bail};
use clap::Args;

/// Arguments of `ae demo` (placeholder until the command lands).
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// Runs `ae demo`.
pub fn run_demo(_args: DemoArgs, _choice: BackendChoice) -> Result<()> {
    bail!("not implemented yet")
}
