//! A file recorder that never leaves a half-written record: it encodes the record in memory
//! with a bytes recorder (named MessagePack, the same bytes burn's `NamedMpkFileRecorder`
//! writes) and writes them through [`ae_io`], which checks every write, the sync and the size
//! before it renames the file into place. burn-train's checkpointer writes through it, so a run
//! killed while saving, or one that meets a full disk, keeps its previous checkpoint intact.

use std::path::PathBuf;

use burn::record::{
    FileRecorder, NamedMpkBytesRecorder, PrecisionSettings, Recorder, RecorderError,
};
use burn::tensor::backend::Backend;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A recorder error's message, without burn's `Unknown("…")` wrapping.
pub fn recorder_message(error: &burn::record::RecorderError) -> String {
    use burn::record::RecorderError;
    match error {
        RecorderError::FileNotFound(m) => format!("file not found: {m}"),
        RecorderError::DeserializeError(m) | RecorderError::Unknown(m) => m.clone(),
    }
}

/// The first write that failed while training, shared by the writers of a run (checkpoints,
/// metrics) and read by the trainer when the loop stops.
#[derive(Debug, Clone, Default)]
pub struct WriteFailures(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl WriteFailures {
    /// Records `message` unless a failure was recorded before.
    pub fn record(&self, message: &str) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(message.to_string());
        }
    }

    /// The first failure, if any.
    pub fn first(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Saves records as named MessagePack (`.mpk`) files, atomically; loads them back.
#[derive(Debug, Clone, Default)]
pub struct AtomicFileRecorder<S: PrecisionSettings> {
    _settings: std::marker::PhantomData<S>,
    failures: WriteFailures,
}

impl<S: PrecisionSettings> AtomicFileRecorder<S> {
    /// A recorder at precision `S`.
    pub fn new() -> Self {
        Self {
            _settings: std::marker::PhantomData,
            failures: WriteFailures::default(),
        }
    }

    /// A recorder that also records its failed saves in `failures`.
    pub fn with_failures(failures: WriteFailures) -> Self {
        Self {
            _settings: std::marker::PhantomData,
            failures,
        }
    }
}

impl<B: Backend, S: PrecisionSettings> Recorder<B> for AtomicFileRecorder<S> {
    type Settings = S;
    type RecordArgs = PathBuf;
    type RecordOutput = ();
    type LoadArgs = PathBuf;

    fn save_item<I: Serialize>(&self, item: I, file: PathBuf) -> Result<(), RecorderError> {
        let target = file.with_extension(<Self as FileRecorder<B>>::file_extension());
        let bytes = Recorder::<B>::save_item(&NamedMpkBytesRecorder::<S>::new(), item, ())?;
        ae_io::write_atomic(&target, &bytes).map_err(|e| {
            let message = e.to_string();
            self.failures.record(&message);
            RecorderError::Unknown(message)
        })
    }

    fn load_item<I: DeserializeOwned>(&self, file: &mut PathBuf) -> Result<I, RecorderError> {
        let path = file.with_extension(<Self as FileRecorder<B>>::file_extension());
        let mut bytes = std::fs::read(&path)
            .map_err(|e| RecorderError::FileNotFound(format!("{}: {e}", path.display())))?;
        Recorder::<B>::load_item(&NamedMpkBytesRecorder::<S>::new(), &mut bytes)
    }
}

impl<B: Backend, S: PrecisionSettings> FileRecorder<B> for AtomicFileRecorder<S> {
    fn file_extension() -> &'static str {
        "mpk"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::record::FullPrecisionSettings;

    type Inner = burn_ndarray::NdArray<f32>;

    #[test]
    fn saves_under_the_target_name_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = AtomicFileRecorder::<FullPrecisionSettings>::new();
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
        let recorder = AtomicFileRecorder::<FullPrecisionSettings>::new();
        let stem = dir.path().join("model-1");
        Recorder::<Inner>::save_item(&recorder, vec![7.0f32], stem.clone()).unwrap();
        // A record that fails halfway through its encoding writes nothing.
        struct Failing;
        impl Serialize for Failing {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("cannot encode"))
            }
        }
        let failed = Recorder::<Inner>::save_item(&recorder, (8.0f32, Failing), stem.clone());
        assert!(failed.is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no partial file is left");
        let mut path = stem;
        let back: Vec<f32> = Recorder::<Inner>::load_item(&recorder, &mut path).unwrap();
        assert_eq!(back, vec![7.0]);
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;
    use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};

    type Inner = burn_ndarray::NdArray<f32>;

    #[test]
    fn files_are_those_of_burns_named_mpk_recorder() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours");
        let burns = dir.path().join("burns");
        let item = vec![1.5f32, -2.0, 3.25];
        Recorder::<Inner>::save_item(
            &AtomicFileRecorder::<FullPrecisionSettings>::new(),
            item.clone(),
            ours.clone(),
        )
        .unwrap();
        Recorder::<Inner>::save_item(
            &NamedMpkFileRecorder::<FullPrecisionSettings>::new(),
            item.clone(),
            burns.clone(),
        )
        .unwrap();
        assert_eq!(
            std::fs::read(ours.with_extension("mpk")).unwrap(),
            std::fs::read(burns.with_extension("mpk")).unwrap()
        );
        let mut path = burns;
        let back: Vec<f32> = Recorder::<Inner>::load_item(
            &AtomicFileRecorder::<FullPrecisionSettings>::new(),
            &mut path,
        )
        .unwrap();
        assert_eq!(back, item);
    }
}
