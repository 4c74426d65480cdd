//! Integration tests for `ae-train`, one binary (one link of burn) with a module per area.

mod common;
mod deep_clustering;
mod devices;
mod optim;
mod pretraining;
mod training;
