//! Errors raised by invalid model configurations.

/// An invalid model configuration, found before any tensor is built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    /// A configuration value is out of its valid range.
    #[error("invalid model config: {0}")]
    InvalidConfig(String),
}
