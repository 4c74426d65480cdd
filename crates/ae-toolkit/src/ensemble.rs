//! Ensembles for anomaly detection: K models trained from different seeds (each on its own
//! split of the data, optionally a bootstrap sample of it), saved as one run folder and scored
//! by the mean of each member's standardized score.
//!
//! The run folder is an ordinary run (member 0, so everything that opens a run opens it) with
//! the other members in `members/<k>/` and `ensemble.json` naming them. Each member's score is
//! standardized by the mean and standard deviation of its scores on its own training items,
//! kept in `ensemble.json` per score so that a moved ensemble scores without its training data.
//!
//! ```no_run
//! use ae_toolkit::burn::backend::Autodiff;
//! use ae_toolkit::backend::Flex;
//! use ae_toolkit::ensemble::{EnsembleSettings, train_ensemble};
//! use ae_toolkit::{ExperimentConfig, TrainOptions};
//!
//! # fn main() -> ae_toolkit::Result<()> {
//! let config = ExperimentConfig::load("experiments/table.toml".as_ref())?;
//! let settings = EnsembleSettings { members: 5, bootstrap: true };
//! let device = Default::default();
//! let report =
//!     train_ensemble::<Autodiff<Flex>>(&config, "runs/five", &device, &TrainOptions::default(), &settings)?;
//! println!("{} members", report.members.len());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ae_data::Dataset;
use ae_data::table::Standardization;
use ae_train::{ExperimentConfig, TrainOptions, TrainSummary};
use burn::tensor::backend::{AutodiffBackend, Backend};
use serde::{Deserialize, Serialize};

use crate::anomaly::{CodeGaussian, ErrorSpread, ScoreKind};
use crate::error::{Result, ToolkitError};
use crate::named::Named;
use crate::run::TrainedRun;

/// The file naming an ensemble's members, in its run folder.
pub const ENSEMBLE_FILE: &str = "ensemble.json";
/// The folder holding the members after the first.
pub const MEMBERS_DIR: &str = "members";

/// How [`train_ensemble`] trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnsembleSettings {
    /// Number of models, at least 2.
    pub members: usize,
    /// Train each member on a bootstrap sample of its training items (drawn with
    /// replacement, as many as there are).
    pub bootstrap: bool,
}

/// One member's score statistics on its own training items, with what its score needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberStats {
    /// Mean score.
    pub mean: f64,
    /// Standard deviation of the scores (floored, so that a constant score does not divide by
    /// zero).
    pub std: f64,
    /// The member's training codes' Gaussian, for the Mahalanobis score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_gaussian: Option<CodeGaussian>,
    /// The member's training errors' spread, for the standardized error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_spread: Option<ErrorSpread>,
}

/// The content of `ensemble.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleManifest {
    /// The member folders besides the run itself, relative to the run folder.
    pub members: Vec<String>,
    /// The seed of every member, the run's own first.
    pub seeds: Vec<u64>,
    /// Whether members trained on bootstrap samples.
    pub bootstrap: bool,
    /// Per score name, every member's statistics (the run's own first).
    #[serde(default)]
    pub scores: BTreeMap<String, Vec<MemberStats>>,
}

impl EnsembleManifest {
    /// The manifest of the run folder `run`, if it holds an ensemble.
    pub fn read(run: &Path) -> Result<Option<Self>> {
        let path = run.join(ENSEMBLE_FILE);
        let Some(manifest): Option<Self> =
            crate::json::read_optional(&path, "an ensemble description")?
        else {
            return Ok(None);
        };
        if manifest.seeds.len() != manifest.members.len() + 1 {
            return Err(ToolkitError::File {
                path,
                message: format!(
                    "{} seeds for {} members",
                    manifest.seeds.len(),
                    manifest.members.len() + 1
                ),
            });
        }
        for member in &manifest.members {
            let relative = Path::new(member);
            if relative.is_absolute()
                || relative
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(ToolkitError::File {
                    path,
                    message: format!("member {member:?} is not a folder inside the run"),
                });
            }
        }
        Ok(Some(manifest))
    }

    /// Writes the manifest into the run folder `run`; returns its path.
    pub fn write(&self, run: &Path) -> Result<PathBuf> {
        let path = run.join(ENSEMBLE_FILE);
        crate::json::write(&path, self)?;
        Ok(path)
    }

    /// The statistics of `kind` for every member, if they were computed.
    pub fn stats(&self, kind: ScoreKind) -> Option<&[MemberStats]> {
        self.scores
            .get(kind.name())
            .filter(|s| s.len() == self.members.len() + 1)
            .map(Vec::as_slice)
    }
}

/// What [`train_ensemble`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct EnsembleTrainReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The first member's training summary (the model in the run folder itself).
    pub summary: TrainSummary,
    /// Each member's folder, seed and training summary.
    pub members: Vec<MemberReport>,
    /// Whether members trained on bootstrap samples.
    pub bootstrap: bool,
    /// The score whose statistics were computed after training.
    pub score: ScoreKind,
}

/// One member of [`EnsembleTrainReport`].
#[derive(Debug, Clone, Serialize)]
pub struct MemberReport {
    /// Its folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// Its seed.
    pub seed: u64,
    /// Its training summary.
    pub summary: TrainSummary,
}

/// Trains `settings.members` models of `config` into the run folder `dir`: member 0 in `dir`
/// itself with `config.seed`, member k in `dir/members/k` with `config.seed + k` (its own
/// split of the data, initialization and shuffling); then computes every member's default
/// score on its training items and writes `ensemble.json`.
pub fn train_ensemble<B: AutodiffBackend>(
    config: &ExperimentConfig,
    dir: impl AsRef<Path>,
    device: &B::Device,
    options: &TrainOptions,
    settings: &EnsembleSettings,
) -> Result<EnsembleTrainReport> {
    if settings.members < 2 {
        return Err(ToolkitError::setting(
            "ensemble",
            format!("needs at least 2 members, got {}", settings.members),
        ));
    }
    let dir = dir.as_ref();
    let mut members = Vec::with_capacity(settings.members);
    for k in 0..settings.members {
        let mut member = config.clone();
        member.seed = config.seed.wrapping_add(k as u64);
        member.data.bootstrap = settings.bootstrap;
        let path = member_path(dir, k);
        // The first member's training says what goes wrong with the config or the data, alone.
        if k > 0 {
            options.reporter.report(&ae_train::Progress::Notice {
                text: format!(
                    "ensemble member {} of {} (seed {})",
                    k + 1,
                    settings.members,
                    member.seed
                ),
            });
        }
        let run = ae_train::RunDir::new(&path);
        let summary = match resume_state(&run, &member, options)? {
            Resume::Finished(summary) => summary,
            Resume::Fresh => {
                let fresh = TrainOptions {
                    resume: false,
                    overwrite: true,
                    ..options.clone()
                };
                ae_train::train::<B>(&member, &run, device.clone(), &fresh)?
            }
            Resume::Train => ae_train::train::<B>(&member, &run, device.clone(), options)?,
        };
        members.push(MemberReport {
            run: path,
            seed: member.seed,
            summary,
        });
    }
    let mut manifest = EnsembleManifest {
        members: (1..settings.members)
            .map(|k| format!("{MEMBERS_DIR}/{k}"))
            .collect(),
        seeds: members.iter().map(|m| m.seed).collect(),
        bootstrap: settings.bootstrap,
        scores: BTreeMap::new(),
    };
    let own = TrainedRun::<B::InnerBackend>::open(dir, device)?;
    let score = crate::anomaly::default_score(&own);
    let runs = open_members(&own, &manifest)?;
    let stats = std::iter::once(&own)
        .chain(runs.iter())
        .map(|run| member_stats(run, score))
        .collect::<Result<Vec<_>>>()?;
    manifest.scores.insert(score.name().to_string(), stats);
    manifest.write(dir)?;
    Ok(EnsembleTrainReport {
        run: dir.to_path_buf(),
        summary: members[0].summary.clone(),
        members,
        bootstrap: settings.bootstrap,
        score,
    })
}

/// What `--resume` does with one member of an interrupted ensemble.
enum Resume {
    /// It finished all its epochs: keep it (its summary as saved).
    Finished(TrainSummary),
    /// It never started, or stopped before its first checkpoint: train it from the beginning.
    Fresh,
    /// Train it as asked (resumed from its newest checkpoint, or from scratch).
    Train,
}

/// Whether the member in `run` is finished, not started, or to be trained as `options` say.
fn resume_state(
    run: &ae_train::RunDir,
    member: &ExperimentConfig,
    options: &TrainOptions,
) -> Result<Resume> {
    if !options.resume {
        return Ok(Resume::Train);
    }
    let has_model = run.model_file().exists();
    // Never started, or stopped before its first checkpoint: nothing to keep.
    if !run.holds_a_run() || (!has_model && run.complete_checkpoints().is_empty()) {
        return Ok(Resume::Fresh);
    }
    if !has_model {
        return Ok(Resume::Train);
    }
    let summary: Option<TrainSummary> =
        crate::json::read_optional(&run.summary_file(), "a training summary")?;
    Ok(match summary {
        Some(summary) if summary.epochs >= member.training.epochs => Resume::Finished(summary),
        _ => Resume::Train,
    })
}

/// The folder of member `k` of the ensemble in `dir`.
fn member_path(dir: &Path, k: usize) -> PathBuf {
    if k == 0 {
        dir.to_path_buf()
    } else {
        dir.join(MEMBERS_DIR).join(k.to_string())
    }
}

/// Opens the members of `manifest` besides `own`, on its device.
pub fn open_members<B: Backend>(
    own: &TrainedRun<B>,
    manifest: &EnsembleManifest,
) -> Result<Vec<TrainedRun<B>>> {
    manifest
        .members
        .iter()
        .map(|member| TrainedRun::open(own.path().join(member), own.device()))
        .collect()
}

/// The statistics of `kind` for `run` on its training items (which must be readable).
pub fn member_stats<B: Backend>(run: &TrainedRun<B>, kind: ScoreKind) -> Result<MemberStats> {
    let detector = crate::anomaly::AnomalyDetector::single(run, kind)?;
    let train = run.split(crate::run::Split::Train)?;
    let scores = detector.decision_function(&train)?;
    let summary = crate::anomaly::ScoreSummary::of(&scores, None, f64::INFINITY)?;
    let (code_gaussian, error_spread) = detector.fitted_parts();
    Ok(MemberStats {
        mean: summary.mean,
        std: summary
            .std
            .max(summary.mean.abs() * 1e-9)
            .max(f64::MIN_POSITIVE),
        code_gaussian,
        error_spread,
    })
}

/// `data`, standardized by `from`, as standardized by `to` instead (members fit their own
/// standardization on their own training split); unchanged when neither standardizes.
pub fn restandardize(
    data: &Dataset,
    from: Option<&Standardization>,
    to: Option<&Standardization>,
) -> Result<Dataset> {
    if from == to {
        return Ok(data.clone());
    }
    let mut out = data.clone();
    if let Some(from) = from {
        from.check(&out)?;
        from.invert(out.inputs.make_f32());
    }
    if let Some(to) = to {
        to.check(&out)?;
        to.apply(&mut out);
    }
    Ok(out)
}

/// The mean over members of each item's standardized score: `scores[k][i]` is member k's
/// raw score of item i.
pub fn combine(scores: &[Vec<f64>], stats: &[MemberStats]) -> Vec<f64> {
    let n = scores.first().map_or(0, Vec::len);
    let k = scores.len().max(1) as f64;
    (0..n)
        .map(|i| {
            scores
                .iter()
                .zip(stats)
                .map(|(s, st)| (s[i] - st.mean) / st.std)
                .sum::<f64>()
                / k
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(mean: f64, std: f64) -> MemberStats {
        MemberStats {
            mean,
            std,
            code_gaussian: None,
            error_spread: None,
        }
    }

    #[test]
    fn members_are_standardized_before_they_are_averaged() {
        // Member 1's scores are ten times member 0's, shifted: standardized they agree.
        let raw = vec![vec![1.0, 2.0, 3.0], vec![20.0, 30.0, 40.0]];
        let combined = combine(&raw, &[stats(2.0, 1.0), stats(30.0, 10.0)]);
        assert_eq!(combined, vec![-1.0, 0.0, 1.0]);
        // Unstandardized, the larger member would dominate; standardized, each counts alike.
        let combined = combine(
            &[vec![0.0, 1.0], vec![100.0, 0.0]],
            &[stats(0.0, 1.0), stats(0.0, 100.0)],
        );
        assert_eq!(combined, vec![0.5, 0.5]);
    }

    #[test]
    fn manifests_naming_folders_outside_the_run_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = EnsembleManifest {
            members: vec!["../elsewhere".into()],
            seeds: vec![1, 2],
            bootstrap: false,
            scores: BTreeMap::new(),
        };
        manifest.write(dir.path()).unwrap();
        let error = EnsembleManifest::read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("not a folder inside the run"), "{error}");

        let manifest = EnsembleManifest {
            members: vec!["members/1".into()],
            seeds: vec![1],
            bootstrap: false,
            scores: BTreeMap::new(),
        };
        manifest.write(dir.path()).unwrap();
        let error = EnsembleManifest::read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("1 seeds for 2 members"), "{error}");
        assert!(
            EnsembleManifest::read(&dir.path().join("none"))
                .unwrap()
                .is_none()
        );
    }
}
