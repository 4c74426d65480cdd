//! `ae denoise`: a denoising autoencoder against a median filter and PCA projection, in PSNR
//! and SSIM.

use ae_backend::BackendChoice;
use anyhow::{Result, bail};
use clap::Args;

/// Arguments of `ae denoise` (placeholder until the command lands).
#[derive(Debug, Args)]
pub struct DenoiseArgs {}

/// Runs `ae denoise`.
pub fn run_denoise(_args: DenoiseArgs, _choice: BackendChoice) -> Result<()> {
    bail!("not implemented yet")
}
