//! Resuming a run: which settings may change, and the newest checkpoint that loads whole and
//! fits the config.

use std::path::Path;

use ae_models::{AnyModel, ModelConfig};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::Optimizer;

use crate::optim::FusedAdamW;
use burn::record::Recorder;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::atomic_recorder::recorder_message;
use crate::progress::Reporter;
use crate::step::{StepCounter, Trainable};
use crate::trainer::ModelRecorder;
use crate::{ExperimentConfig, RunDir, TrainError};

/// The settings a resumed run may change.
pub const CHANGEABLE_ON_RESUME: [&str; 3] = ["training.epochs", "training.devices", "distributed"];

/// The dotted keys whose values differ between `before` (the config a run's checkpoints were
/// trained with) and `now`, besides [`CHANGEABLE_ON_RESUME`], each with both values.
pub fn differing_keys(
    before: &ExperimentConfig,
    now: &ExperimentConfig,
) -> Result<Vec<(String, String, String)>, TrainError> {
    let value = |c: &ExperimentConfig| {
        toml::Value::try_from(c).map_err(|e| TrainError::Invalid(e.to_string()))
    };
    let mut out = Vec::new();
    diff(&value(before)?, &value(now)?, "", &mut out);
    out.retain(|(key, _, _)| {
        !CHANGEABLE_ON_RESUME.iter().any(|c| {
            key == c
                || key
                    .strip_prefix(c)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    });
    Ok(out)
}

fn diff(a: &toml::Value, b: &toml::Value, prefix: &str, out: &mut Vec<(String, String, String)>) {
    let show =
        |v: Option<&toml::Value>| v.map_or_else(|| "(not set)".to_string(), |v| v.to_string());
    match (a, b) {
        (toml::Value::Table(x), toml::Value::Table(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match (x.get(key), y.get(key)) {
                    (Some(u), Some(v)) => diff(u, v, &path, out),
                    (u, v) => out.push((path, show(u), show(v))),
                }
            }
        }
        _ if a != b => out.push((prefix.to_string(), a.to_string(), b.to_string())),
        _ => {}
    }
}

/// The shapes of a module's float parameters, in visiting order.
pub(crate) fn parameter_shapes<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl<B: Backend> ModuleVisitor<B> for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.val().dims().to_vec());
        }
    }
    let mut shapes = Shapes(Vec::new());
    module.visit(&mut shapes);
    shapes.0
}

/// Loads `record` into `template`, failing (instead of panicking, as burn does on a record
/// with another number of layers) unless every parameter keeps its shape; `path` names the
/// record's file in the error.
pub(crate) fn load_fitting<B: Backend, M: Module<B>>(
    template: M,
    record: M::Record,
    path: &Path,
) -> Result<M, TrainError> {
    let expected = parameter_shapes(&template);
    let mismatch = |detail: String| TrainError::WeightsMismatch {
        path: path.to_path_buf(),
        detail,
    };
    let loaded = quietly(|| template.load_record(record))
        .map_err(|()| mismatch("the file has another number of layers".into()))?;
    let found = parameter_shapes(&loaded);
    if found != expected {
        let detail = match expected.iter().zip(&found).position(|(a, b)| a != b) {
            Some(i) => format!(
                "parameter {i} has shape {:?} in the file but {:?} in the config",
                found[i], expected[i]
            ),
            None => format!(
                "{} parameters in the file, {} in the config",
                found.len(),
                expected.len()
            ),
        };
        return Err(mismatch(detail));
    }
    Ok(loaded)
}

/// Runs `f`, turning a panic into `Err(())` without printing the panic message (burn asserts
/// on malformed records; that is a damaged file here, reported by the caller).
fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, ()> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.map_err(|_| ())
}

/// The model of the checkpoint of `epoch`, checked against `config`.
pub fn load_checkpoint_model<B: Backend>(
    config: &ModelConfig,
    run: &RunDir,
    epoch: usize,
    device: &B::Device,
) -> Result<AnyModel<B>, TrainError> {
    let stem = run.checkpoint_dir().join(format!("model-{epoch}"));
    let path = stem.with_extension("mpk");
    let record =
        quietly(|| ModelRecorder::new().load::<<Trainable<B> as Module<B>>::Record>(stem, device))
            .map_err(|()| TrainError::Record {
                path: path.clone(),
                message: "cannot read the checkpoint: the file is malformed".into(),
            })?
            .map_err(|e| TrainError::Record {
                path: path.clone(),
                message: format!("cannot read the checkpoint: {e}"),
            })?;
    let template = Trainable {
        model: config.init(device)?,
        steps: StepCounter::starting_at(0),
        devices: 1,
    };
    Ok(load_fitting(template, record, &path)?.model)
}

/// Reads the optimizer record of `optimizer`'s type from `stem`.
fn check_optimizer<B: AutodiffBackend, O: Optimizer<Trainable<B>, B>>(
    optimizer: O,
    stem: std::path::PathBuf,
    device: &B::Device,
) -> Result<(), String> {
    let record = quietly(|| ModelRecorder::new().load::<O::Record>(stem, device))
        .map_err(|()| "the file is malformed".to_string())?
        .map_err(|e| recorder_message(&e))?;
    quietly(|| optimizer.load_record(record))
        .map(|_| ())
        .map_err(|()| "its state does not fit the model".to_string())
}

/// Checks that the checkpoint of `epoch` loads whole: the model (fitting `config`), the
/// optimizer's state and the scheduler's.
pub fn check_checkpoint<B: AutodiffBackend>(
    config: &ModelConfig,
    run: &RunDir,
    epoch: usize,
    device: &B::Device,
) -> Result<(), TrainError> {
    load_checkpoint_model::<B::InnerBackend>(config, run, epoch, device)?;
    let stem = |part: &str| run.checkpoint_dir().join(format!("{part}-{epoch}"));
    let damaged = |part: &str, message: String| TrainError::Record {
        path: stem(part).with_extension("mpk"),
        message: format!("cannot read the checkpoint: {message}"),
    };
    check_optimizer::<B, _>(
        // Its record is burn's AdamW record whatever the constants.
        FusedAdamW::new(1e-5, 0.0).init::<B, Trainable<B>>(None),
        stem("optim"),
        device,
    )
    .map_err(|m| damaged("optim", m))?;
    quietly(|| Recorder::<B>::load::<usize>(&ModelRecorder::new(), stem("scheduler"), device))
        .map_err(|()| damaged("scheduler", "the file is malformed".into()))?
        .map_err(|e| damaged("scheduler", recorder_message(&e)))?;
    Ok(())
}

/// The newest complete checkpoint that loads whole and fits `config`; each newer damaged
/// one is told to `reporter` and skipped. `None` when no checkpoint is intact.
pub fn newest_intact_checkpoint<B: AutodiffBackend>(
    config: &ModelConfig,
    run: &RunDir,
    device: &B::Device,
    reporter: &Reporter,
) -> Result<Option<usize>, TrainError> {
    let mut last_error = None;
    for epoch in run.complete_checkpoints() {
        match check_checkpoint::<B>(config, run, epoch, device) {
            Ok(()) => return Ok(Some(epoch)),
            // Weights that do not fit the config are the config's fault, not the file's.
            Err(e @ TrainError::WeightsMismatch { .. }) => return Err(e),
            Err(e) => {
                reporter.notice(format!(
                    "warning: the checkpoint of epoch {epoch} is damaged and skipped: {e}"
                ));
                last_error = Some(e);
            }
        }
    }
    match last_error {
        Some(e) => Err(TrainError::Record {
            path: run.checkpoint_dir(),
            message: format!("no intact checkpoint to resume from (the last error: {e})"),
        }),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[data]
source = "mnist"
[model]
model = "autoencoder"
latent = 4
architecture = { kind = "mlp", hidden = [32] }
[training]
epochs = 2
"#;

    #[test]
    fn only_the_changeable_settings_may_differ_and_others_are_named() {
        let before = ExperimentConfig::from_toml(CONFIG, Path::new("a.toml")).unwrap();
        let mut now = before.clone();
        now.training.epochs = 9;
        assert!(differing_keys(&before, &now).unwrap().is_empty());
        let edited = CONFIG
            .replace("hidden = [32]", "hidden = [32, 32]")
            .replace("latent = 4", "latent = 6");
        let now = ExperimentConfig::from_toml(&edited, Path::new("b.toml")).unwrap();
        let keys = differing_keys(&before, &now).unwrap();
        let names: Vec<&str> = keys.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["model.architecture.hidden", "model.latent"],
            "{keys:?}"
        );
        assert_eq!(keys[1].1, "4");
        assert_eq!(keys[1].2, "6");
    }
}
