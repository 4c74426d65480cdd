//! Data sets, corruptions and batching for the autoencoder toolkit.
//!
//! Loaders turn files (IDX/MNIST, image folders, CSV tables, paired image
//! folders) or seeded generators into an in-memory [`Dataset`]; a [`DataConfig`]
//! says which, and [`prepare()`] splits it for an experiment; an [`ItemReader`]
//! reads new items the way a trained run reads its data; an [`AeBatcher`]
//! turns item indices into corrupted/clean tensor batches for burn's data
//! loader.

#![warn(missing_docs)]

pub mod batcher;
pub mod colored;
pub mod config;
pub mod corruption;
pub mod dataset;
pub mod error;
pub mod folder;
pub mod idx;
pub mod mnist;
pub mod paired;
pub mod prepare;
pub mod stream;
pub mod synthetic;
pub mod table;
pub mod values;

pub use batcher::{AeBatch, AeBatcher, IndexDataset};
pub use config::{DataConfig, DataSource};
pub use corruption::Corruption;
pub use dataset::{Dataset, ImageShape};
pub use error::DataError;
pub use mnist::{MnistKind, MnistSplit, load_mnist};
pub use prepare::{
    DataInfo, ItemReader, PreparedData, SplitSizes, StreamedItems, prepare, prepare_with,
};
pub use stream::ItemChunks;
pub use values::Values;
