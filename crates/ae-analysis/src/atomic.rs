//! Files that appear whole or not at all: written to a hidden partial file beside the target,
//! synced, and renamed onto the target only when complete.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{AnalysisError, Result};

/// A file being written; readers see nothing under its name until [`AtomicFile::commit`].
/// Dropped without a commit, it removes its partial file.
pub struct AtomicFile {
    path: PathBuf,
    partial: PathBuf,
    out: Option<BufWriter<fs::File>>,
}

fn io_error(path: &Path, source: std::io::Error) -> AnalysisError {
    AnalysisError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl AtomicFile {
    /// Starts writing `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let path = path.as_ref().to_path_buf();
        let name = path
            .file_name()
            .ok_or_else(|| {
                io_error(
                    &path,
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"),
                )
            })?
            .to_string_lossy()
            .into_owned();
        let partial = path.with_file_name(format!(
            ".{name}.{}.{}.partial",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = fs::File::create(&partial).map_err(|e| io_error(&path, e))?;
        Ok(Self {
            path,
            partial,
            out: Some(BufWriter::new(file)),
        })
    }

    /// The path the file will have once committed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `bytes`.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.out {
            Some(out) => out.write_all(bytes).map_err(|e| io_error(&self.path, e)),
            None => Ok(()),
        }
    }

    /// Flushes, syncs and renames the file onto its path; returns that path.
    pub fn commit(mut self) -> Result<PathBuf> {
        let Some(out) = self.out.take() else {
            return Ok(self.path.clone());
        };
        out.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all())
            .and_then(|()| fs::rename(&self.partial, &self.path))
            .map_err(|e| io_error(&self.path, e))?;
        Ok(self.path.clone())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            // Not committed: best effort, the partial file may already be gone.
            let _ = fs::remove_file(&self.partial);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appears_only_when_committed_and_leaves_nothing_when_dropped() {
        let dir = std::env::temp_dir().join(format!("ae-atomic-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.csv");
        fs::write(&path, "old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"new ").unwrap();
        file.write_all(b"text").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(file.commit().unwrap(), path);
        assert_eq!(fs::read_to_string(&path).unwrap(), "new text");

        let mut abandoned = AtomicFile::create(&path).unwrap();
        abandoned.write_all(b"half").unwrap();
        drop(abandoned);
        assert_eq!(fs::read_to_string(&path).unwrap(), "new text");
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["out.csv"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
