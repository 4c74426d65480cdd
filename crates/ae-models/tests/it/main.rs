//! Integration tests for `ae-models`, one binary (one link of burn) with a module per area.

#[path = "../common/mod.rs"]
mod common;
mod config;
mod conv;
#[path = "../gradcheck/mod.rs"]
mod gradcheck;
mod gradients_f32;
mod importance;
mod likelihood;
mod regularization;
mod reparameterize;
mod save_load;
