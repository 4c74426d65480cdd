//! The explorer's errors: a bad request from the page (answered with a 4xx and its message)
//! apart from a fault of the run or the server.

use thiserror::Error;

/// What can go wrong.
#[derive(Debug, Error)]
pub enum ExploreError {
    /// A request's arguments are wrong (answered 400 with this message).
    #[error("{0}")]
    BadRequest(String),
    /// A setting of the explorer is wrong.
    #[error("{0}")]
    Setting(String),
    /// The run cannot do what was asked (answered 422).
    #[error("{0}")]
    Unavailable(String),
    /// The run or its data.
    #[error(transparent)]
    Toolkit(#[from] ae_toolkit::ToolkitError),
    /// The map's layout.
    #[error(transparent)]
    Analysis(#[from] ae_toolkit::analysis::AnalysisError),
    /// The server could not listen or answer.
    #[error("{0}")]
    Server(String),
}

/// A result of the explorer.
pub type Result<T> = std::result::Result<T, ExploreError>;
