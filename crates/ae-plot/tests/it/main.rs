//! Integration tests for `ae-plot`, one binary (one link of burn) with a module per area.

mod canvas;
mod chart;
mod font;
mod plots;
mod ticks;
