//! An interactive explorer of a trained run's latent space, served as a local web page.
//!
//! [`Explorer`] opens the run's items (its test split by default), encodes them, lays their
//! codes out on a 2-D map (the code itself, PCA or UMAP) and scores them; its queries decode
//! codes, points of the map, interpolations, attribute moves and samples with the run's own
//! model. [`Server`] answers those queries as JSON beside a page embedded in the binary (no
//! network needed), read-only, on 127.0.0.1 by default. `ae explore RUN` is this, in one line.
//!
//! ```no_run
//! use ae_explore::{ExploreSettings, Explorer, Server};
//! use ae_toolkit::{TrainedRun, backend::Flex};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let run = TrainedRun::<Flex>::open("runs/mlp-vae-mnist", &Default::default())?;
//! let explorer = Explorer::new(run, &ExploreSettings::default())?;
//! let server = Server::bind("127.0.0.1", 8765)?;
//! eprintln!("open {}", server.url());
//! server.run(&explorer); // until the process ends
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod explorer;
pub mod plane;
pub mod server;

pub use error::{ExploreError, Result};
pub use explorer::{ExploreSettings, Explorer, Info};
pub use server::{Reply, Server, respond};
