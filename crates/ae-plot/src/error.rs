//! The single error type of this crate.

use std::path::PathBuf;

impl From<ae_io::WriteError> for PlotError {
    fn from(e: ae_io::WriteError) -> Self {
        PlotError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

/// Everything that can go wrong while laying out, drawing or saving a chart.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A file-system operation on `path` failed (missing directory, permissions, ...).
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file the caller asked to write.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The PNG encoder failed while writing `path`.
    #[error("cannot encode PNG {}: {source}", path.display())]
    Encode {
        /// The file the caller asked to write.
        path: PathBuf,
        /// The underlying encoder error.
        source: image::ImageError,
    },
    /// The chart library failed to draw (a font that cannot be read, a backend error).
    #[error("cannot draw the chart: {0}")]
    Draw(String),
    /// A picture larger than can be drawn.
    #[error(
        "a picture of {width}x{height} pixels is too large to draw (at most {} pixels a side): \
         draw fewer items or zoom less",
        crate::grid::MAX_SIDE
    )]
    TooLarge {
        /// Width in pixels.
        width: u64,
        /// Height in pixels.
        height: u64,
    },
    /// A picture that does not fit in memory.
    #[error(transparent)]
    Memory(#[from] ae_io::memory::MemoryError),
    /// Items of this shape cannot be drawn as images.
    #[error("cannot draw items of shape {0} as images")]
    NotImages(crate::grid::ItemShape),
    /// The requested image leaves no room for a plot area.
    #[error("image too small for a chart: {width}x{height}")]
    TooSmall {
        /// Requested width in pixels.
        width: u32,
        /// Requested height in pixels.
        height: u32,
    },
    /// A per-point slice does not have one entry per point.
    #[error("{what} ({len}) and points ({points}) differ in length")]
    LengthMismatch {
        /// What the per-point slice holds (`"labels"`, `"colors"`).
        what: &'static str,
        /// Its length.
        len: usize,
        /// The number of points.
        points: usize,
    },
    /// An explicit axis range is not finite or is empty (`min >= max`).
    #[error("invalid {axis} range [{min}, {max}]: bounds must be finite with min < max")]
    InvalidRange {
        /// `"x"` or `"y"`.
        axis: &'static str,
        /// Requested lower bound.
        min: f64,
        /// Requested upper bound.
        max: f64,
    },
}
