//! Dimensionality reduction: `ae encode`, `ae pca`, `ae compare-pca` and `ae cluster`.

use ae_backend::BackendChoice;
use anyhow::{Result, bail};
use clap::Args;

/// Arguments of `ae encode` (placeholder until the command lands).
#[derive(Debug, Args)]
pub struct EncodeArgs {}

/// Runs `ae encode`.
pub fn run_encode(_args: EncodeArgs, _choice: BackendChoice) -> Result<()> {
    bail!("not implemented yet")
}

/// Arguments of `ae pca` (placeholder until the command lands).
#[derive(Debug, Args)]
pub struct PcaArgs {}

/// Runs `ae pca`.
pub fn run_pca(_args: PcaArgs, _choice: BackendChoice) -> Result<()> {
    bail!("not implemented yet")
}

/// Arguments of `ae comparepca` (placeholder until the command lands).
#[derive(Debug, Args)]
pub struct ComparePcaArgs {}

/// Runs `ae comparepca`.
pub fn run_comparepca(_args: ComparePcaArgs, _choice: BackendChoice) -> Result<()> {
    bail!("not implemented yet")
}

/// Arguments of `ae cluster` (placeholder until the command lands).
#[derive(Debug, Args)]
pub struct ClusterArgs {}

/// Runs `ae cluster`.
pub fn run_cluster(_args: ClusterArgs, _choice: BackendChoice) -> Result<()> {
    bail!("not implemented yet")
}
