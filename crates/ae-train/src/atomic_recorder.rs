//! A file recorder that never leaves a half-written record: it writes beside the target, syncs,
//! then renames. burn-train's checkpointer writes through it, so a run killed while saving
//! keeps its previous checkpoint intact.

use std::path::{Path, PathBuf};

use burn::record::{FileRecorder, Recorder, RecorderError};
use burn::tensor::backend::Backend;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Wraps a [`FileRecorder`] so that every save is atomic (write, sync, rename).
#[derive(Debug, Clone, Default)]
pub struct AtomicFileRecorder<R> {
    inner: R,
}

impl<R> AtomicFileRecorder<R> {
    /// Atomic saves through `inner`.
    pub fn new(inner: R) -> Self {
        Self { inner }
    }
}

/// The temporary stem a record for `stem` is written to before the rename: a hidden sibling,
/// so that an interrupted save never looks like a checkpoint.
fn partial_stem(stem: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".partial-");
    name.push(stem.file_name().unwrap_or_default());
    stem.with_file_name(name)
}

impl<B: Backend, R: FileRecorder<B>> Recorder<B> for AtomicFileRecorder<R> {
    type Settings = R::Settings;
    type RecordArgs = PathBuf;
    type RecordOutput = ();
    type LoadArgs = PathBuf;

    fn save_item<I: Serialize>(&self, item: I, file: PathBuf) -> Result<(), RecorderError> {
        let extension = <R as FileRecorder<B>>::file_extension();
        let target = file.with_extension(extension);
        let partial = partial_stem(&file);
        let partial_file = partial.with_extension(extension);
        self.inner.save_item(item, partial)?;
        let finish = || -> std::io::Result<()> {
            std::fs::File::open(&partial_file)?.sync_all()?;
            std::fs::rename(&partial_file, &target)?;
            if let Some(dir) = target.parent()
                && let Ok(dir) = std::fs::File::open(dir)
            {
                // Persist the rename itself; not every platform can sync a directory.
                let _ = dir.sync_all();
            }
            Ok(())
        };
        finish().map_err(|e| {
            let _ = std::fs::remove_file(&partial_file);
            RecorderError::Unknown(format!("cannot write {}: {e}", target.display()))
        })
    }

    fn load_item<I: DeserializeOwned>(&self, file: &mut PathBuf) -> Result<I, RecorderError> {
        <R as Recorder<B>>::load_item(&self.inner, file)
    }
}

impl<B: Backend, R: FileRecorder<B>> FileRecorder<B> for AtomicFileRecorder<R> {
    fn file_extension() -> &'static str {
        <R as FileRecorder<B>>::file_extension()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};

    type Inner = burn_ndarray::NdArray<f32>;

    #[test]
    fn saves_under_the_target_name_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let recorder =
            AtomicFileRecorder::new(NamedMpkFileRecorder::<FullPrecisionSettings>::new());
        let stem = dir.path().join("model-3");
        Recorder::<Inner>::save_item(&recorder, vec![1.5f32, -2.0], stem.clone()).unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["model-3.mpk".to_string()]);
        let mut path = stem;
        let back: Vec<f32> = Recorder::<Inner>::load_item(&recorder, &mut path).unwrap();
        assert_eq!(back, vec![1.5, -2.0]);
    }

    #[test]
    fn a_failed_save_keeps_the_previous_record() {
        let dir = tempfile::tempdir().unwrap();
        let recorder =
            AtomicFileRecorder::new(NamedMpkFileRecorder::<FullPrecisionSettings>::new());
        let stem = dir.path().join("model-1");
        Recorder::<Inner>::save_item(&recorder, vec![7.0f32], stem.clone()).unwrap();
        // A directory where the temporary file must go makes the write fail midway.
        std::fs::create_dir(dir.path().join(".partial-model-1.mpk")).unwrap();
        assert!(Recorder::<Inner>::save_item(&recorder, vec![8.0f32], stem.clone()).is_err());
        let mut path = stem;
        let back: Vec<f32> = Recorder::<Inner>::load_item(&recorder, &mut path).unwrap();
        assert_eq!(back, vec![7.0]);
    }
}
