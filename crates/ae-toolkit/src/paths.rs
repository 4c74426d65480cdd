//! Paths in reports: JSON holds text, so a path that is not UTF-8 is written lossily (its odd
//! bytes as U+FFFD) rather than failing the whole report after the work is done.

use std::path::{Path, PathBuf};

use serde::Serializer;

/// Serializes a path as text, lossily.
pub fn lossy<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&path.to_string_lossy())
}

/// Serializes an optional path as text, lossily.
pub fn lossy_option<S: Serializer>(
    path: &Option<PathBuf>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => serializer.serialize_some(&path.to_string_lossy()),
        None => serializer.serialize_none(),
    }
}

/// Serializes paths as text, lossily.
pub fn lossy_vec<S: Serializer>(paths: &[PathBuf], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    #[derive(serde::Serialize)]
    struct Report {
        #[serde(serialize_with = "super::lossy")]
        run: std::path::PathBuf,
        #[serde(serialize_with = "super::lossy_vec")]
        files: Vec<std::path::PathBuf>,
    }

    #[test]
    fn a_path_that_is_not_utf8_is_written_lossily() {
        let odd = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b"runs/r\xffn"));
        let report = Report {
            run: odd.clone(),
            files: vec![odd.join("a.npy")],
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["run"], "runs/r\u{fffd}n");
        assert_eq!(json["files"][0], "runs/r\u{fffd}n/a.npy");
    }
}
