//! Experiment configs: what data, which model, how to train. Read from TOML with unknown keys
//! rejected, and saved beside every run.

use std::path::Path;

pub use ae_data::{DataConfig, DataSource};
use ae_models::ModelConfig;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::distributed::DistributedConfig;
use crate::pretraining::RbmPretraining;
use crate::schedule::LrSchedule;

/// The optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// Adam (β = 0.9, 0.999; ε = 1e-8), no weight decay.
    #[default]
    Adam,
    /// AdamW: Adam with decoupled weight decay.
    Adamw,
}

fn default_epochs() -> usize {
    10
}
fn default_batch_size() -> usize {
    128
}
fn default_learning_rate() -> f64 {
    1e-3
}
fn default_epsilon() -> f64 {
    1e-8
}
fn default_workers() -> usize {
    1
}
fn default_kept() -> usize {
    2
}

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Number of passes over the training data.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Items per optimizer step.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// When the training split has fewer items than `batch_size`, train on all of them at
    /// once (one step per epoch) instead of refusing the config; the run's config.toml keeps
    /// the batch size used. `ae train --data csv` sets it for its default batch size, since a
    /// small table's size is not known before it is read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shrink_batch_to_data: bool,
    /// Initial learning rate.
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
    /// The optimizer.
    #[serde(default)]
    pub optimizer: OptimizerKind,
    /// Adam's ε (added to the root of the second-moment estimate); Burda et al. used 1e-4.
    #[serde(default = "default_epsilon")]
    pub epsilon: f64,
    /// Decoupled weight decay (AdamW only).
    #[serde(default)]
    pub weight_decay: f64,
    /// Learning-rate schedule.
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Clip the gradient's norm to this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_clip_norm: Option<f32>,
    /// Stop when the validation loss has not improved for this many epochs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping_patience: Option<usize>,
    /// Data-loader worker threads preparing batches ahead of the step.
    #[serde(default = "default_workers")]
    pub num_workers: usize,
    /// Epoch checkpoints to keep, at least 2 so that a checkpoint that fails to write leaves the
    /// one before intact (the best by validation loss is kept as well).
    #[serde(default = "default_kept")]
    pub checkpoints_kept: usize,
    /// Start a logistic MLP autoencoder from a stack of RBMs trained layer by layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbm_pretraining: Option<RbmPretraining>,
    /// Data-parallel training in one process on these devices of the backend (indices: `[0,
    /// 1]` for two GPUs; empty: the backend's one device), through burn-train's multi-device
    /// strategy. Each step, every device takes `batch_size / devices` items of its share of
    /// the data and the gradients are averaged, so `batch_size` stays the items per optimizer
    /// step and the training curve matches one device's. A CPU backend has one device: an
    /// index repeated (`[0, 0]`) runs workers side by side on it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<usize>,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: default_epochs(),
            batch_size: default_batch_size(),
            shrink_batch_to_data: false,
            learning_rate: default_learning_rate(),
            optimizer: OptimizerKind::Adam,
            epsilon: default_epsilon(),
            weight_decay: 0.0,
            lr_schedule: LrSchedule::Constant,
            grad_clip_norm: None,
            early_stopping_patience: None,
            num_workers: default_workers(),
            checkpoints_kept: default_kept(),
            rbm_pretraining: None,
            devices: Vec::new(),
        }
    }
}

fn default_seed() -> u64 {
    42
}

/// A whole experiment: data, model and training.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Seed for initialization, shuffling, corruption and sampling.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The data.
    pub data: DataConfig,
    /// The model (its `input_shape` is filled in from the data).
    pub model: ModelConfig,
    /// The training settings.
    #[serde(default)]
    pub training: TrainingConfig,
    /// Training across processes and machines (absent: one process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<DistributedConfig>,
}

impl ExperimentConfig {
    /// Reads and validates a TOML config file.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::Config {
            path: path.to_path_buf(),
            message: format!("cannot read the config file: {e}"),
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses and validates TOML text; `path` only names the source in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, TrainError> {
        let error = |message: String| TrainError::Config {
            path: path.to_path_buf(),
            message,
        };
        let value: toml::Value =
            toml::from_str(text).map_err(|e| error(e.to_string().trim_end().to_string()))?;
        let config: ExperimentConfig = value
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| error(e.to_string().trim_end().to_string()))?;
        let round_trip = toml::Value::try_from(&config).map_err(|e| error(e.to_string()))?;
        let mut unknown = Vec::new();
        unknown_keys(&value, &round_trip, "", &mut unknown);
        if !unknown.is_empty() {
            return Err(error(format!("unknown key(s): {}", unknown.join(", "))));
        }
        config.validate().map_err(|e| error(e.to_string()))?;
        Ok(config)
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> Result<String, TrainError> {
        toml::to_string_pretty(self).map_err(|e| TrainError::Invalid(e.to_string()))
    }

    /// Checks every value that can be checked without the data.
    pub fn validate(&self) -> Result<(), TrainError> {
        let t = &self.training;
        let invalid = |m: String| Err(TrainError::Invalid(m));
        if t.epochs == 0 {
            return invalid("training.epochs must be at least 1".into());
        }
        if t.batch_size == 0 {
            return invalid("training.batch_size must be at least 1".into());
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return invalid(format!(
                "training.learning_rate must be positive, got {}",
                t.learning_rate
            ));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return invalid("training.weight_decay must be non-negative".into());
        }
        if t.weight_decay > 0.0 && t.optimizer == OptimizerKind::Adam {
            return invalid("training.weight_decay needs optimizer = \"adamw\"".into());
        }
        if let Some(clip) = t.grad_clip_norm
            && !(clip.is_finite() && clip > 0.0)
        {
            return invalid("training.grad_clip_norm must be positive".into());
        }
        if !(t.epsilon.is_finite() && t.epsilon > 0.0) {
            return invalid(format!(
                "training.epsilon must be positive, got {}",
                t.epsilon
            ));
        }
        t.lr_schedule.validate().map_err(TrainError::Invalid)?;
        if t.num_workers == 0 {
            return invalid("training.num_workers must be at least 1".into());
        }
        let devices = t.devices.len();
        if devices > 1 && !t.batch_size.is_multiple_of(devices) {
            return invalid(format!(
                "training.batch_size {} does not split evenly over {devices} devices: make it a \
                 multiple of {devices}",
                t.batch_size
            ));
        }
        if devices > 1 && t.rbm_pretraining.is_some() {
            return invalid(
                "training.rbm_pretraining runs on one device: leave training.devices empty".into(),
            );
        }
        if let Some(&index) = t.devices.iter().find(|&&i| i > u16::MAX as usize) {
            return invalid(format!("training.devices: {index} is not a device index"));
        }
        if let Some(pretraining) = &t.rbm_pretraining {
            pretraining.validate(&self.model)?;
        }
        if let Some(d) = &self.distributed {
            d.validate()?;
            let nodes = d.nodes;
            if nodes > 1 && !t.batch_size.is_multiple_of(nodes) {
                return invalid(format!(
                    "training.batch_size {} does not split evenly over {nodes} nodes: make it a \
                     multiple of {nodes}",
                    t.batch_size
                ));
            }
            if nodes > 1 && devices > 1 {
                return invalid(
                    "training.devices and [distributed] are not combined: one device per process"
                        .into(),
                );
            }
            if nodes > 1 && t.rbm_pretraining.is_some() {
                return invalid(
                    "training.rbm_pretraining runs in one process: leave [distributed] out".into(),
                );
            }
        }
        self.data
            .validate()
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        if self.model.latent() == 0 {
            return invalid("model.latent must be at least 1".into());
        }
        Ok(())
    }
}

/// Collects dotted paths of keys in `user` that the parsed config does not have.
fn unknown_keys(user: &toml::Value, parsed: &toml::Value, prefix: &str, out: &mut Vec<String>) {
    match (user, parsed) {
        (toml::Value::Table(u), toml::Value::Table(p)) => {
            for (key, value) in u {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match p.get(key) {
                    Some(inner) => unknown_keys(value, inner, &path, out),
                    None => out.push(path),
                }
            }
        }
        (toml::Value::Array(u), toml::Value::Array(p)) => {
            for (i, (a, b)) in u.iter().zip(p).enumerate() {
                unknown_keys(a, b, &format!("{prefix}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
seed = 7
[data]
source = "mnist"
corruptions = [{ kind = "gaussian", sigma = 0.3 }]
[model]
model = "vae"
latent = 20
architecture = { kind = "mlp", hidden = [400] }
[training]
epochs = 2
"#;

    #[test]
    fn every_shipped_experiment_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                ExperimentConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
            }
        }
        names.sort();
        for expected in [
            "dae-mnist",
            "deep-ae-mnist",
            "linear-ae-mnist-k10",
            "mlp-vae-mnist",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
    }

    #[test]
    fn parses_a_good_config_and_round_trips() {
        let c = ExperimentConfig::from_toml(GOOD, Path::new("good.toml")).unwrap();
        assert_eq!(c.seed, 7);
        assert_eq!(c.training.epochs, 2);
        assert_eq!(c.training.batch_size, 128);
        let again = ExperimentConfig::from_toml(&c.to_toml().unwrap(), Path::new("x")).unwrap();
        assert_eq!(again.data, c.data);
    }

    #[test]
    fn rejects_unknown_keys_naming_file_and_key() {
        let bad = GOOD.replace("latent = 20", "latent = 20\nlatnet = 3");
        let e = ExperimentConfig::from_toml(&bad, Path::new("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.toml") && e.contains("model.latnet"), "{e}");
        let bad = GOOD.replace("epochs = 2", "epochs = 2\nepochz = 3");
        let e = ExperimentConfig::from_toml(&bad, Path::new("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("epochz"), "{e}");
    }

    #[test]
    fn rejects_out_of_range_values() {
        for (from, to, needle) in [
            ("latent = 20", "latent = 0", "latent"),
            ("sigma = 0.3", "sigma = -0.3", "sigma"),
            ("epochs = 2", "epochs = 0", "epochs"),
            ("model = \"vae\"", "model = \"gan\"", "gan"),
        ] {
            let bad = GOOD.replace(from, to);
            let e = ExperimentConfig::from_toml(&bad, Path::new("bad.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("bad.toml") && e.contains(needle), "{to}: {e}");
        }
    }

    #[test]
    fn rbm_pretraining_fills_defaults_and_needs_a_logistic_autoencoder() {
        let logistic = GOOD
            .replace("model = \"vae\"", "model = \"autoencoder\"")
            .replace("[400] }", "[400], activation = \"sigmoid\" }")
            .replace("epochs = 2", "epochs = 2\nrbm_pretraining = { epochs = 3 }");
        let c = ExperimentConfig::from_toml(&logistic, Path::new("good.toml")).unwrap();
        let settings = c.training.rbm_pretraining.clone().unwrap();
        assert_eq!(
            (settings.epochs, settings.batch_size, settings.learning_rate),
            (3, 100, 0.1)
        );
        let again = ExperimentConfig::from_toml(&c.to_toml().unwrap(), Path::new("x")).unwrap();
        assert_eq!(again.training, c.training);

        let vae = GOOD.replace("epochs = 2", "epochs = 2\nrbm_pretraining = {}");
        let e = ExperimentConfig::from_toml(&vae, Path::new("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.toml") && e.contains("rbm_pretraining") && e.contains("sigmoid"),
            "{e}"
        );
        let typo = logistic.replace("{ epochs = 3 }", "{ epochz = 3 }");
        let e = ExperimentConfig::from_toml(&typo, Path::new("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("epochz"), "{e}");
    }
}
