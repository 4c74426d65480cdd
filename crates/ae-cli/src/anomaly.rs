//! Anomaly detection by reconstruction error or negative ELBO: `ae anomaly fit | score | eval`.

use ae_backend::BackendChoice;
use anyhow::{Result, bail};
use clap::Args;

/// Arguments of `ae anomaly` (placeholder until the command lands).
#[derive(Debug, Args)]
pub struct AnomalyArgs {}

/// Runs `ae anomaly`.
pub fn run_anomaly(_args: AnomalyArgs, _choice: BackendChoice) -> Result<()> {
    bail!("not implemented yet")
}
