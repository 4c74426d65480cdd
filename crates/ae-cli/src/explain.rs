//! Meaning in the latent space: `ae traverse`, `ae interpolate` and `ae attribute`.

use ae_backend::BackendChoice;
use anyhow::{Result, bail};
use clap::Args;

/// Arguments of `ae traverse` (placeholder until the command lands).
#[derive(Debug, Args)]
pub struct TraverseArgs {}

/// Runs `ae traverse`.
pub fn run_traverse(_args: TraverseArgs, _choice: BackendChoice) -> Result<()> {
    bail!("not implemented yet")
}

/// Arguments of `ae interpolate` (placeholder until the command lands).
#[derive(Debug, Args)]
pub struct InterpolateArgs {}

/// Runs `ae interpolate`.
pub fn run_interpolate(_args: InterpolateArgs, _choice: BackendChoice) -> Result<()> {
    bail!("not implemented yet")
}

/// Arguments of `ae attribute` (placeholder until the command lands).
#[derive(Debug, Args)]
pub struct AttributeArgs {}

/// Runs `ae attribute`.
pub fn run_attribute(_args: AttributeArgs, _choice: BackendChoice) -> Result<()> {
    bail!("not implemented yet")
}
