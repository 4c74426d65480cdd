//! `ae`: train, evaluate, reconstruct with and sample from autoencoders.

mod anomaly;
mod commands;
mod demo;
mod denoise;
mod explain;
mod flags;
mod generate;
mod reduce;
mod shared;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = flags::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
