//! Integration tests for `ae-analysis`, one module per library module.
// Reference implementations in the tests index explicitly for clarity.
#![allow(clippy::needless_range_loop)]

mod common;

mod assignment;
mod cluster_metrics;
mod eigen;
mod eigen_degenerate;
mod gmm;
mod iforest;
mod image_quality;
mod kmeans;
mod npy;
mod pca;
mod roc;
mod stats;
mod subspace;
mod timing;
mod umap;
