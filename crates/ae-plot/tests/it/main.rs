//! Integration tests for `ae-plot`.

mod plots;
