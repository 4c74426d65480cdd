//! Charts and image grids for the autoencoder toolkit.
//!
//! Charts are drawn with [`plotters`] in an embedded DejaVu Sans: one-call helpers in
//! [`plots`] ([`scatter_by_label`], [`roc_plot`], [`xy_scatter_with_lines`], [`scatter_xy`])
//! write an 800×600 PNG, and an SVG beside it when [`set_svg_beside`] asks for it. Image
//! grids ([`write_grid`]) are drawn pixel for pixel with [`image`]. Every file is written
//! atomically through [`ae_io`].

#![warn(missing_docs)]

pub mod error;
pub mod grid;
pub mod palette;
pub mod plots;
mod render;

pub use error::PlotError;
pub use grid::{GRID_PAD, ItemShape, check_grid, grid_size, render_grid, write_grid};
pub use palette::{Color, category_color};
pub use plots::{roc_plot, scatter_by_label, scatter_xy, xy_scatter_with_lines};
pub use render::{HEIGHT, WIDTH, set_svg_beside, svg_beside};

/// Re-export of the colour type's constructor: `Rgb([r, g, b])`.
pub use image::Rgb;
