//! Generation and latent uncertainty: `ae sample` (prior or a Gaussian mixture fitted to the
//! training latents) and `ae uncertainty`.

use std::path::PathBuf;

use ae_backend::{BackendChoice, BackendTask, run_on};
use ae_train::RunDir;
use ae_train::load_model;
use ae_train::pictures::write_grid;
use anyhow::{Result, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Tensor};
use clap::Args;

use crate::shared::rows_of;

/// Arguments of `ae sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 16)]
    pub count: usize,
    /// Output PNG (default: samples.png inside the run folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed for the samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Scale factor of the images.
    #[arg(long, default_value_t = 3)]
    pub zoom: u32,
}

/// Runs `ae sample`.
pub fn run_sample(args: SampleArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, SampleTask { args })?
}

struct SampleTask {
    args: SampleArgs,
}

impl BackendTask for SampleTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let run = RunDir::new(&self.args.run);
        let (config, model) = load_model::<B::InnerBackend>(&run, &device)?;
        let Some(vae) = model.as_vae() else {
            bail!(
                "{}: sampling needs a VAE, but this run trained a {}",
                run.path().display(),
                config.model.name()
            );
        };
        if self.args.count == 0 {
            bail!("--count must be at least 1");
        }
        B::InnerBackend::seed(&device, self.args.seed);
        let z = Tensor::<B::InnerBackend, 2>::random(
            [self.args.count, vae.latent],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let images = rows_of(vae.decode(z))?;
        let per_row = (self.args.count as f64).sqrt().ceil() as usize;
        let rows: Vec<Vec<Vec<f32>>> = images.chunks(per_row).map(|c| c.to_vec()).collect();
        let out = self
            .args
            .out
            .clone()
            .unwrap_or_else(|| run.path().join("samples.png"));
        write_grid(&out, &rows, config.model.input_shape(), self.args.zoom)?;
        println!("{}", serde_json::json!({ "picture": out }));
        Ok(())
    }
}

/// Arguments of `ae uncertainty` (placeholder until the command lands).
#[derive(Debug, Args)]
pub struct UncertaintyArgs {}

/// Runs `ae uncertainty`.
pub fn run_uncertainty(_args: UncertaintyArgs, _choice: BackendChoice) -> Result<()> {
    bail!("not implemented yet")
}
