//! The error type of the library.

use std::path::PathBuf;

/// Everything that can go wrong while using a trained run.
#[derive(Debug, thiserror::Error)]
pub enum ToolkitError {
    /// Training, a run folder or a config.
    #[error(transparent)]
    Train(#[from] ae_train::TrainError),
    /// Reading or preparing data.
    #[error(transparent)]
    Data(#[from] ae_data::DataError),
    /// A model config.
    #[error(transparent)]
    Model(#[from] ae_models::ModelError),
    /// The numerics (PCA, k-means, UMAP, ROC, ...).
    #[error(transparent)]
    Analysis(#[from] ae_analysis::AnalysisError),
    /// Drawing a picture.
    #[error(transparent)]
    Plot(#[from] ae_plot::PlotError),
    /// Writing a file.
    #[error(transparent)]
    Write(#[from] ae_io::WriteError),
    /// What was asked for does not fit in memory.
    #[error(transparent)]
    Memory(#[from] ae_io::memory::MemoryError),
    /// A setting is out of range or does not apply. `name` is the setting's field name; the
    /// message reads `name problem`, followed by a suggested setting when there is one.
    #[error("{}", render_setting(name, problem, suggestion.as_ref(), ""))]
    Setting {
        /// The setting (its field name, as `batch_size`).
        name: &'static str,
        /// What is wrong, continuing the sentence that starts with the name.
        problem: String,
        /// A setting and value that would work instead.
        suggestion: Option<(&'static str, String)>,
    },
    /// The run cannot do what was asked (e.g. sample a prior it does not have).
    #[error("{0}")]
    Unsupported(String),
    /// A file of the run folder exists but cannot be read.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Tensor values could not be read back from the backend.
    #[error("cannot read tensor data: {0}")]
    Tensor(String),
}

/// `name problem[; try name2 = value]`, with `prefix` before each name (the command line
/// shows `--` there, and `-` for `_`).
pub fn render_setting(
    name: &str,
    problem: &str,
    suggestion: Option<&(&'static str, String)>,
    prefix: &str,
) -> String {
    let flag = |n: &str| {
        if prefix.is_empty() {
            n.to_string()
        } else {
            format!("{prefix}{}", n.replace('_', "-"))
        }
    };
    let mut text = format!("{} {problem}", flag(name));
    if let Some((other, value)) = suggestion {
        if prefix.is_empty() {
            text.push_str(&format!("; try {other} = {value}"));
        } else {
            text.push_str(&format!("; try {} {value}", flag(other)));
        }
    }
    text
}

impl ToolkitError {
    /// A [`ToolkitError::Setting`] error without a suggestion.
    pub fn setting(name: &'static str, problem: impl Into<String>) -> Self {
        ToolkitError::Setting {
            name,
            problem: problem.into(),
            suggestion: None,
        }
    }

    /// The message as the command line shows it: settings spelled as flags (`--batch-size`).
    pub fn with_flags(&self) -> String {
        match self {
            ToolkitError::Setting {
                name,
                problem,
                suggestion,
            } => render_setting(name, problem, suggestion.as_ref(), "--"),
            other => other.to_string(),
        }
    }
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, ToolkitError>;

/// Fails with a [`ToolkitError::Setting`] when `value` is 0.
pub(crate) fn at_least_one(name: &'static str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(ToolkitError::setting(name, "must be at least 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_as_fields_or_as_flags() {
        let e = ToolkitError::setting("batch_size", "must be at least 1");
        assert_eq!(e.to_string(), "batch_size must be at least 1");
        assert_eq!(e.with_flags(), "--batch-size must be at least 1");
        let e = ToolkitError::Setting {
            name: "from",
            problem: "prior needs a VAE".into(),
            suggestion: Some(("from", "gmm".into())),
        };
        assert_eq!(e.to_string(), "from prior needs a VAE; try from = gmm");
        assert_eq!(e.with_flags(), "--from prior needs a VAE; try --from gmm");
    }
}
