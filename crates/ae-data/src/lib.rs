//! Data sets, corruptions and batching for the autoencoder toolkit.
//!
//! Loaders turn files (IDX/MNIST, image folders, CSV tables, paired image
//! folders) or seeded generators into an in-memory [`Dataset`]; an
//! [`AeBatcher`] turns item indices into corrupted/clean tensor batches for
//! burn's data loader.

#![warn(missing_docs)]

pub mod batcher;
pub mod colored;
pub mod corruption;
pub mod dataset;
pub mod error;
pub mod folder;
pub mod idx;
pub mod mnist;
pub mod paired;
pub mod stream;
pub mod synthetic;
pub mod table;
pub mod values;

pub use batcher::{AeBatch, AeBatcher, IndexDataset};
pub use corruption::Corruption;
pub use dataset::{Dataset, ImageShape};
pub use error::DataError;
pub use mnist::{MnistKind, MnistSplit, load_mnist};
pub use stream::ItemChunks;
pub use values::Values;
