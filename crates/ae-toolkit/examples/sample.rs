//! Open a trained VAE and draw samples from its prior into a PNG grid.
//!
//! ```sh
//! cargo run --release -p ae-toolkit --example sample -- runs/example-vae samples.png 36
//! # RUN_DIR OUT.png [COUNT]
//! ```

use std::error::Error;

use ae_toolkit::backend::Flex;
use ae_toolkit::sample::prior_codes;
use ae_toolkit::{TrainedRun, plot};

/// Draws `args[2]` (default 16) samples of the VAE at `args[0]` into `args[1]`; returns the
/// picture's size in pixels.
pub fn run(args: &[String]) -> Result<(u32, u32), Box<dyn Error>> {
    let (run_dir, out) = match args {
        [run_dir, out, ..] => (run_dir, out),
        _ => return Err("usage: sample RUN_DIR OUT.png [COUNT]".into()),
    };
    let count: usize = args.get(2).map_or(Ok(16), |n| n.parse())?;
    let run = TrainedRun::<Flex>::open(run_dir, &Default::default())?;
    let codes = prior_codes(&run, count, 7)?;
    let images = run.decode(&codes)?;
    let per_row = (count as f64).sqrt().ceil() as usize;
    let rows: Vec<Vec<Vec<f32>>> = images.chunks(per_row).map(<[_]>::to_vec).collect();
    Ok(plot::write_grid(out.as_ref(), &rows, run.grid_shape(), 3)?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (width, height) = run(&args)?;
    println!("{} ({width}x{height} pixels)", args[1]);
    Ok(())
}
