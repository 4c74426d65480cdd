//! The single error type shared by every analysis routine.

use std::path::PathBuf;

/// Convenience alias for results returned by this crate.
pub type Result<T> = std::result::Result<T, AnalysisError>;

/// Everything that can go wrong in `ae-analysis`.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// A flat buffer does not match the requested matrix or image shape.
    #[error("shape mismatch for {what}: expected {expected} values ({shape}), got {got}")]
    ShapeMismatch {
        /// What was being built or read.
        what: &'static str,
        /// Human-readable description of the expected shape.
        shape: String,
        /// Number of values the shape needs.
        expected: usize,
        /// Number of values supplied.
        got: usize,
    },
    /// Rows passed to [`crate::Matrix::from_rows`] have different lengths.
    #[error("ragged rows: row 0 has {expected} columns but row {row} has {got}")]
    RaggedRows {
        /// Index of the first offending row.
        row: usize,
        /// Length of row 0.
        expected: usize,
        /// Length of the offending row.
        got: usize,
    },
    /// Two operands have incompatible dimensions.
    #[error("dimension mismatch in {op}: {left} vs {right}")]
    DimensionMismatch {
        /// Operation being performed.
        op: &'static str,
        /// Shape (or size) of the left operand.
        left: String,
        /// Shape (or size) of the right operand.
        right: String,
    },
    /// Two slices that must be paired element-wise have different lengths.
    #[error("{what} differ in length: {left} vs {right}")]
    LengthMismatch {
        /// Which inputs, e.g. "labels and predictions".
        what: &'static str,
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// A square matrix was required.
    #[error("{what} must be square, got {rows}x{cols}")]
    NotSquare {
        /// Which matrix.
        what: &'static str,
        /// Number of rows.
        rows: usize,
        /// Number of columns.
        cols: usize,
    },
    /// A symmetric matrix was required.
    #[error("matrix is not symmetric: a[{i}][{j}] = {a_ij} but a[{j}][{i}] = {a_ji}")]
    NotSymmetric {
        /// Row of the offending entry.
        i: usize,
        /// Column of the offending entry.
        j: usize,
        /// Value at (i, j).
        a_ij: f64,
        /// Value at (j, i).
        a_ji: f64,
    },
    /// An input that must be non-empty was empty.
    #[error("{what} is empty")]
    Empty {
        /// Which input.
        what: &'static str,
    },
    /// An input contained NaN or an infinity.
    #[error("{what} contains a non-finite value ({value}) at index {index}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Flat index of the first non-finite value.
        index: usize,
        /// The value itself.
        value: f64,
    },
    /// Too few data points for the requested number of clusters/components.
    #[error("{algorithm} needs at least k={k} points, got {n}")]
    TooFewPoints {
        /// Algorithm name, e.g. "k-means".
        algorithm: &'static str,
        /// Requested number of clusters or components.
        k: usize,
        /// Number of points supplied.
        n: usize,
    },
    /// A parameter is outside its valid range.
    #[error("invalid {name}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A ranking metric needs both classes but one is absent.
    #[error(
        "{metric} needs both classes, got {positives} anomalies and {negatives} normal samples"
    )]
    SingleClass {
        /// Metric name.
        metric: &'static str,
        /// Number of positive (anomalous) samples.
        positives: usize,
        /// Number of negative (normal) samples.
        negatives: usize,
    },
    /// An iterative algorithm failed to converge.
    #[error("{algorithm} did not converge after {iterations} iterations")]
    NoConvergence {
        /// Algorithm name.
        algorithm: &'static str,
        /// Iterations performed.
        iterations: usize,
    },
    /// A matrix that must be positive definite is not.
    #[error("{what} is not positive definite (Cholesky pivot {pivot} is {value})")]
    NotPositiveDefinite {
        /// Which matrix.
        what: String,
        /// Index of the failing pivot.
        pivot: usize,
        /// Value of the failing pivot.
        value: f64,
    },
    /// An image is smaller than a filter window.
    #[error("{what} needs images of at least {min}x{min} pixels, got {height}x{width}")]
    ImageTooSmall {
        /// Which measure.
        what: &'static str,
        /// Minimum side length.
        min: usize,
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
    },
    /// An I/O error on a named file.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] ae_io::WriteError),
    /// A `.npy` file is malformed or of an unsupported kind.
    #[error("invalid .npy file {}: {reason}", path.display())]
    Npy {
        /// The file involved.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Returns an error naming the first non-finite value in `values`.
pub(crate) fn check_finite(what: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(AnalysisError::NonFinite {
            what,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Returns an error when two paired inputs differ in length.
pub(crate) fn check_same_len(what: &'static str, left: usize, right: usize) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(AnalysisError::LengthMismatch { what, left, right })
    }
}
