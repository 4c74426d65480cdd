//! The error type shared by every loader in this crate.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while loading or preparing data.
///
/// Every variant that concerns a file carries its path, and the message says
/// what is wrong (with the row, column or entry where that applies).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is malformed or unexpected.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong, and where in the file.
        message: String,
    },
    /// An image file could not be decoded.
    #[error("{}: cannot decode image: {source}", path.display())]
    Image {
        /// The image file concerned.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// An argument or a combination of data is invalid (not tied to one file).
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
    },
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    /// An [`DataError::Io`] error for `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A [`DataError::Format`] error for `path`.
    pub fn format(path: &Path, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// An [`DataError::Invalid`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        DataError::Invalid {
            message: message.into(),
        }
    }

    /// The file this error concerns, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DataError::Io { path, .. }
            | DataError::Format { path, .. }
            | DataError::Image { path, .. } => Some(path),
            DataError::Invalid { .. } => None,
        }
    }
}

/// Fails with [`DataError::Invalid`] when `bytes` (what `what` would take) exceed the memory
/// available (see [`ae_io::memory::check`]).
pub fn check_memory(what: &str, bytes: u128) -> Result<()> {
    ae_io::memory::check(what, bytes).map_err(|e| DataError::invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_file_and_problem() {
        let e = DataError::format(Path::new("/tmp/x.csv"), "line 3: bad");
        assert_eq!(e.to_string(), "/tmp/x.csv: line 3: bad");
        assert_eq!(e.path(), Some(Path::new("/tmp/x.csv")));
        let e = DataError::io(
            Path::new("a/b.idx"),
            std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        );
        assert_eq!(e.to_string(), "a/b.idx: gone");
        let e = DataError::invalid("nope");
        assert_eq!(e.to_string(), "nope");
        assert!(e.path().is_none());
    }
}
