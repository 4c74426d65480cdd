//! Open a trained run and encode an image folder or CSV table (read like the run's data) to
//! a `.npy` array, items × latent; the training data is not needed.
//!
//! ```sh
//! cargo run --release -p ae-toolkit --example encode -- runs/example-vae datasets codes.npy
//! # RUN_DIR DATA_PATH OUT.npy
//! ```

use std::error::Error;

use ae_toolkit::backend::Flex;
use ae_toolkit::{ItemSource, TrainedRun};

/// Encodes the items at `args[1]` with the run at `args[0]` into `args[2]`; returns the
/// number of items and the latent size.
pub fn run(args: &[String]) -> Result<(usize, usize), Box<dyn Error>> {
    let [run_dir, data_path, out] = args else {
        return Err("usage: encode RUN_DIR DATA_PATH OUT.npy".into());
    };
    let run = TrainedRun::<Flex>::open(run_dir, &Default::default())?;
    let items = run.read(&ItemSource::path(data_path))?;
    let codes = run.encode(&items, 500)?;
    ae_toolkit::analysis::write_npy_f32(out, codes.rows(), codes.cols(), &codes.to_f32())?;
    Ok((codes.rows(), codes.cols()))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (items, latent) = run(&args)?;
    println!("{items} codes of {latent} values written to {}", args[2]);
    Ok(())
}
