//! Integration tests for `ae-cli`, one binary (one link of burn) with a module per area.

mod anomaly;
mod backends;
mod cli;
mod common;
mod crash;
mod demo;
mod denoise;
mod distributed;
mod explain;
mod explore;
mod generate;
mod hostile;
mod moved;
mod reduce;
mod reliability;
mod tabular;
