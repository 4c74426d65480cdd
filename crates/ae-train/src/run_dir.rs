//! The run folder `runs/<name>/`: config, model config, metrics CSV, checkpoints and the final
//! model, with every file written atomically (temporary file, sync, rename: [`ae_io`]).

use std::path::{Path, PathBuf};

use crate::TrainError;

/// Paths inside one run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    dir: PathBuf,
}

impl RunDir {
    /// The run folder at `dir` (not created yet).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder itself.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Creates the folder and its checkpoint folder.
    pub fn create(&self) -> Result<(), TrainError> {
        std::fs::create_dir_all(self.checkpoint_dir())
            .map_err(|e| TrainError::io(self.checkpoint_dir(), e))
    }

    /// The experiment config the run was trained with.
    pub fn config_file(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    /// The model config alone, as burn's JSON config (rebuilds the model).
    pub fn model_config_file(&self) -> PathBuf {
        self.dir.join("model.json")
    }

    /// Per-epoch metrics.
    pub fn metrics_file(&self) -> PathBuf {
        self.dir.join("metrics.csv")
    }

    /// The final model record, without its `.mpk` extension (burn's recorders add it).
    pub fn model_stem(&self) -> PathBuf {
        self.dir.join("model")
    }

    /// The final model record file.
    pub fn model_file(&self) -> PathBuf {
        self.dir.join("model.mpk")
    }

    /// Column statistics of a CSV run.
    pub fn standardization_file(&self) -> PathBuf {
        self.dir.join("standardization.json")
    }

    /// What the run knows of its data without reading it again: shapes, class names,
    /// column names ([`ae_data::DataInfo`]).
    pub fn data_info_file(&self) -> PathBuf {
        self.dir.join("data.json")
    }

    /// The anomaly threshold fitted by `ae anomaly fit`.
    pub fn anomaly_file(&self) -> PathBuf {
        self.dir.join("anomaly.json")
    }

    /// Each value's training reconstruction errors (mean and spread), which the standardized
    /// error score of a table's autoencoder divides by, saved so that a moved run scores
    /// without its training table.
    pub fn error_spread_file(&self) -> PathBuf {
        self.dir.join("error-spread.json")
    }

    /// The description of an ensemble's members (written by `ae-toolkit`).
    pub fn ensemble_file(&self) -> PathBuf {
        self.dir.join("ensemble.json")
    }

    /// The summary of the last training session.
    pub fn summary_file(&self) -> PathBuf {
        self.dir.join("summary.json")
    }

    /// burn-train's epoch checkpoints.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }

    /// Removes what an earlier training session left (checkpoints, metric logs, model, and
    /// what was fitted to that model: its anomaly threshold, error spread and ensemble), so a
    /// fresh run does not mix with it.
    pub fn clear_previous_training(&self) -> Result<(), TrainError> {
        for dir in [
            self.checkpoint_dir(),
            self.dir.join("train"),
            self.dir.join("valid"),
        ] {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
            }
        }
        for file in [
            self.metrics_file(),
            self.model_file(),
            self.summary_file(),
            self.anomaly_file(),
            self.error_spread_file(),
            self.ensemble_file(),
        ] {
            if file.exists() {
                std::fs::remove_file(&file).map_err(|e| TrainError::io(&file, e))?;
            }
        }
        self.create()
    }

    /// The newest epoch with a complete checkpoint (model, optimizer and scheduler).
    pub fn latest_checkpoint(&self) -> Option<usize> {
        self.complete_checkpoints().into_iter().next()
    }

    /// The epochs with a complete checkpoint (model, optimizer and scheduler files), newest
    /// first.
    pub fn complete_checkpoints(&self) -> Vec<usize> {
        let Ok(entries) = std::fs::read_dir(self.checkpoint_dir()) else {
            return Vec::new();
        };
        let mut epochs: Vec<usize> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix("model-")?
                    .strip_suffix(".mpk")?
                    .parse::<usize>()
                    .ok()
            })
            .filter(|epoch| {
                ["optim", "scheduler"].iter().all(|part| {
                    self.checkpoint_dir()
                        .join(format!("{part}-{epoch}.mpk"))
                        .exists()
                })
            })
            .collect();
        epochs.sort_unstable_by(|a, b| b.cmp(a));
        epochs
    }

    /// The config the run's checkpoints were trained with, written when the run started: a
    /// resumed run is checked against it (`config.toml` may have been edited).
    pub fn checkpoint_config_file(&self) -> PathBuf {
        self.checkpoint_dir().join("config.toml")
    }

    /// The lock file held while the run is written.
    pub fn lock_file(&self) -> PathBuf {
        self.dir.join(".lock")
    }

    /// Whether the folder already holds a run (a config, a model or checkpoints).
    pub fn holds_a_run(&self) -> bool {
        self.config_file().exists()
            || self.model_file().exists()
            || self.latest_checkpoint().is_some()
    }

    /// Checks that this is a trained run, naming what is missing.
    pub fn require_trained(&self) -> Result<(), TrainError> {
        if !self.config_file().exists() {
            return Err(TrainError::Config {
                path: self.dir.clone(),
                message: "not a run folder: it has no config.toml".into(),
            });
        }
        if !self.model_file().exists() {
            return Err(TrainError::Record {
                path: self.dir.clone(),
                message: "this run has no trained model (model.mpk): train it first".into(),
            });
        }
        Ok(())
    }
}

/// A run folder held for writing: its lock file names the holder's process and is removed
/// when the lock is dropped. A second writer gets [`TrainError::Locked`].
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

/// Whether process `pid` is alive, where that can be told (Linux: `/proc/<pid>`); elsewhere
/// a lock file is taken to be held.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

impl RunLock {
    /// Creates the run folder if needed and takes its lock; a lock left by a process that
    /// is gone is taken over.
    pub fn acquire(run: &RunDir) -> Result<Self, TrainError> {
        std::fs::create_dir_all(run.path()).map_err(|e| TrainError::io(run.path(), e))?;
        let path = run.lock_file();
        for _ in 0..3 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    use std::io::Write;
                    writeln!(file, "{}", std::process::id())
                        .and_then(|()| file.sync_all())
                        .map_err(|e| TrainError::io(&path, e))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|text| text.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if process_alive(pid) => {
                            return Err(TrainError::Locked {
                                run: run.path().to_path_buf(),
                                pid,
                            });
                        }
                        // Left by a process that is gone (or half-written): take it over.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(TrainError::io(&path, e)),
            }
        }
        Err(TrainError::io(
            &path,
            std::io::Error::other("cannot take the lock: it keeps being taken"),
        ))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Writes `bytes` to `path` atomically (see [`ae_io`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    ae_io::write_atomic(path, bytes).map_err(|e| TrainError::io(e.path, e.source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_lock_is_exclusive_names_its_holder_and_is_taken_over_when_stale() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("run"));
        let lock = RunLock::acquire(&run).unwrap();
        let holder = std::fs::read_to_string(run.lock_file()).unwrap();
        assert_eq!(holder.trim(), std::process::id().to_string());
        let e = RunLock::acquire(&run).unwrap_err().to_string();
        assert!(
            e.contains(&std::process::id().to_string()) && e.contains(".lock"),
            "{e}"
        );
        drop(lock);
        assert!(!run.lock_file().exists());
        // A lock whose process is gone (no such pid) is stale.
        if Path::new("/proc/self").exists() {
            std::fs::write(run.lock_file(), "4194999\n").unwrap();
            let _lock = RunLock::acquire(&run).unwrap();
        }
    }

    #[test]
    fn latest_checkpoint_needs_all_three_parts() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        run.create().unwrap();
        for part in ["model", "optim", "scheduler"] {
            std::fs::write(run.checkpoint_dir().join(format!("{part}-2.mpk")), b"x").unwrap();
        }
        std::fs::write(run.checkpoint_dir().join("model-3.mpk"), b"x").unwrap();
        assert_eq!(run.latest_checkpoint(), Some(2));
        let e = run.require_trained().unwrap_err().to_string();
        assert!(e.contains("config.toml"), "{e}");
    }
}
