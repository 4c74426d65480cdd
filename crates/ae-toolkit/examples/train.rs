//! Configure a model in Rust and train it into a run folder.
//!
//! ```sh
//! cargo run --release -p ae-toolkit --example train -- runs/example-vae
//! # RUN_DIR [DATASETS_ROOT] [TRAINING_ITEMS]
//! ```

use std::error::Error;

use ae_toolkit::backend::Flex;
use ae_toolkit::burn::backend::Autodiff;
use ae_toolkit::models::{Activation, ArchitectureConfig, ModelConfig, VaeConfig};
use ae_toolkit::{
    DataConfig, DataSource, ExperimentConfig, Reporter, TrainOptions, TrainReport, TrainingConfig,
};

/// Trains a small VAE on MNIST into `args[0]`; returns the library's report.
pub fn run(args: &[String]) -> Result<TrainReport, Box<dyn Error>> {
    let run_dir = args.first().map_or("runs/example-vae", String::as_str);
    // MNIST from the shipped datasets/ folder (or $AE_DATASETS), unless a root is given.
    let mut data = DataConfig::new(DataSource::Mnist);
    data.path = args.get(1).map(Into::into);
    data.limit = Some(args.get(2).map_or(Ok(2000), |n| n.parse())?);
    let config = ExperimentConfig {
        distributed: None,
        seed: 1,
        data,
        model: ModelConfig::Vae(VaeConfig::new(
            8,
            ArchitectureConfig::mlp(vec![128], Activation::Relu),
        )),
        training: TrainingConfig {
            epochs: 2,
            batch_size: 100,
            ..TrainingConfig::default()
        },
    };
    // Progress lines (epochs, steps) go wherever the program wants them: here, stderr.
    let options = TrainOptions {
        reporter: Reporter::new(|progress| eprintln!("{progress}")),
        // Running the example again replaces its run.
        overwrite: true,
        ..TrainOptions::default()
    };
    let device = Default::default();
    Ok(ae_toolkit::train::<Autodiff<Flex>>(
        &config, run_dir, &device, &options,
    )?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let report = run(&args)?;
    println!(
        "{}: validation loss {:.2} after {} epochs ({:.0} items/s)",
        report.run.display(),
        report.summary.validation.loss,
        report.summary.epochs,
        report.summary.items_per_second
    );
    Ok(())
}
