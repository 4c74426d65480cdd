//! Pure-Rust numerics for analysing autoencoder latents.
//!
//! Everything here works on plain `f64` data held in the small row-major
//! [`Matrix`] type (or on slices) and has no dependency on `burn`, so it can be
//! used from the CLI, from tests and from offline analysis tools alike.
//!
//! Modules, one concept each:
//! - [`eigen`]: symmetric eigendecomposition (Householder + implicit QL).
//! - [`pca`]: principal component analysis via the covariance eigenproblem.
//! - [`subspace`]: orthonormal bases and principal angles between subspaces.
//! - [`kmeans`]: k-means++ seeded Lloyd clustering with restarts.
//! - [`neighbors`]: exact k nearest neighbours.
//! - [`umap`]: UMAP embeddings (a neighbour graph laid out in a few dimensions).
//! - [`assignment`]: Hungarian (minimum-cost) assignment.
//! - [`cluster_metrics`]: clustering accuracy, NMI and ARI.
//! - [`roc`]: AUROC, average precision, ROC curves, percentiles, thresholds.
//! - [`image_quality`]: PSNR, SSIM, total variation and a 3x3 median filter.
//! - [`gmm`]: full-covariance Gaussian mixtures fitted with EM.
//! - [`stats`]: Pearson and Spearman correlation, median, average ranks.
//! - [`npy`]: NumPy `.npy` (version 1.0) reading and atomic writing (through [`ae_io`]).

#![warn(missing_docs)]

pub mod assignment;
pub mod cluster_metrics;
pub mod eigen;
pub mod error;
pub mod gmm;
pub mod iforest;
pub mod image_quality;
pub mod kmeans;
pub mod matrix;
pub mod neighbors;
pub mod npy;
pub mod pca;
pub mod progress;
pub mod roc;
pub mod stats;
pub mod subspace;
pub mod umap;

mod rng;

pub use assignment::{assignment_cost, hungarian};
pub use cluster_metrics::{
    adjusted_rand_index, clustering_accuracy, normalized_mutual_information,
};
pub use eigen::{SymmetricEigen, symmetric_eigen};
pub use error::{AnalysisError, Result};
pub use gmm::GaussianMixture;
pub use iforest::{IsolationForest, IsolationForestSettings, average_path_length};
pub use image_quality::{median_filter_3x3, psnr, ssim, total_variation};
pub use kmeans::KMeans;
pub use matrix::Matrix;
pub use neighbors::NearestNeighbors;
pub use npy::{
    NpyArray, NpyF32, NpyRowWriter, read_npy_f32, read_npy_i64, write_npy_f32, write_npy_f64,
    write_npy_i64,
};
pub use pca::Pca;
pub use progress::{OnProgress, Stage};
pub use roc::{auroc, average_precision, percentile, roc_curve, threshold_for_contamination};
pub use stats::{average_ranks, median, pearson, spearman};
pub use subspace::{orthonormal_basis, principal_angles_degrees};
pub use umap::{Umap, UmapSettings, curve_parameters};
