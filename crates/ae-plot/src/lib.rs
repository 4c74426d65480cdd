//! Small, dependency-light PNG charts for the autoencoder toolkit.
//!
//! Everything is drawn with [`image`] alone: a hand-made 5×7 bitmap
//! [`font`], a clipped raster [`Canvas`], "nice" [`ticks`], a [`Chart`]
//! builder for scatter/line plots with legend, and one-call helpers in
//! [`plots`] ([`scatter_by_label`], [`roc_plot`], [`xy_scatter_with_lines`],
//! [`scatter_xy`]), and image grids ([`write_grid`]). PNGs are written atomically through
//! [`ae_io`].

#![warn(missing_docs)]

pub mod canvas;
pub mod chart;
pub mod error;
pub mod font;
pub mod grid;
pub mod palette;
pub mod plots;
pub mod ticks;

pub use canvas::{Canvas, Marker, Rect};
pub use chart::{AxisRange, Chart, Frame, LegendEntry, LegendPosition, Swatch};
pub use error::PlotError;
pub use grid::{GRID_PAD, ItemShape, check_grid, grid_size, render_grid, write_grid};
pub use palette::{Color, category_color};
pub use plots::{roc_plot, scatter_by_label, scatter_xy, xy_scatter_with_lines};
pub use ticks::{Ticks, format_tick, nice_ticks};

/// Re-export of the colour type's constructor: `Rgb([r, g, b])`.
pub use image::Rgb;
