//! The small JSON files of a run folder (threshold, ensemble manifest, error spread, reports):
//! read when present, written atomically, a fault named with the file.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, ToolkitError};

/// The `what` (e.g. "an ensemble description") in `path`, or `None` when there is no such file.
pub(crate) fn read_optional<T: DeserializeOwned>(path: &Path, what: &str) -> Result<Option<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ToolkitError::File {
                path: path.to_path_buf(),
                message: format!("cannot read: {e}"),
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ToolkitError::File {
            path: path.to_path_buf(),
            message: format!("not {what}: {e}"),
        })
}

/// Writes `value` to `path` as indented JSON, atomically.
pub(crate) fn write<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_string_pretty(value).map_err(|e| ToolkitError::File {
        path: path.to_path_buf(),
        message: format!("cannot encode: {e}"),
    })?;
    ae_io::write_atomic(path, json.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_none_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        assert_eq!(read_optional::<Vec<u32>>(&path, "a list").unwrap(), None);
        write(&path, &vec![1u32, 2]).unwrap();
        assert_eq!(
            read_optional::<Vec<u32>>(&path, "a list").unwrap(),
            Some(vec![1, 2])
        );
        std::fs::write(&path, "[1,").unwrap();
        let error = read_optional::<Vec<u32>>(&path, "a list").unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("x.json") && text.contains("not a list"),
            "{text}"
        );
    }
}
