//! Compact progress lines for logs and pipes (burn-train's dashboard is used on terminals).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use burn::train::LearnerSummary;
use burn::train::metric::{MetricDefinition, NumericEntry};
use burn::train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};

/// Running sums of one split's metrics within an epoch.
#[derive(Default)]
struct SplitState {
    sums: Vec<(String, f64, usize)>,
    epoch: usize,
    items: usize,
    started: Option<Instant>,
}

impl SplitState {
    fn add(&mut self, name: &str, value: f64, count: usize) {
        match self.sums.iter_mut().find(|(n, _, _)| n == name) {
            Some(slot) => {
                slot.1 += value * count as f64;
                slot.2 += count;
            }
            None => self
                .sums
                .push((name.to_string(), value * count as f64, count)),
        }
    }

    fn summary(&self) -> String {
        self.sums
            .iter()
            .filter(|(_, _, c)| *c > 0)
            .map(|(n, s, c)| format!("{n} {:.3}", s / *c as f64))
            .collect::<Vec<_>>()
            .join("  ")
    }

    fn reset(&mut self, epoch: usize) {
        self.sums.clear();
        self.epoch = epoch;
        self.items = 0;
        self.started = Some(Instant::now());
    }

    fn rate(&self) -> f64 {
        let secs = self
            .started
            .map(|s| s.elapsed().as_secs_f64())
            .unwrap_or(0.0);
        if secs > 0.0 {
            self.items as f64 / secs
        } else {
            0.0
        }
    }
}

/// Prints one line per epoch and split, plus a progress line every few seconds.
pub struct LineRenderer {
    names: HashMap<String, String>,
    train: SplitState,
    valid: SplitState,
    interval: Duration,
    last_print: Instant,
    total_epochs: usize,
}

impl LineRenderer {
    /// A renderer printing progress at most every `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            names: HashMap::new(),
            train: SplitState::default(),
            valid: SplitState::default(),
            interval,
            last_print: Instant::now(),
            total_epochs: 0,
        }
    }

    fn record(&mut self, state: MetricState, train: bool) {
        if let MetricState::Numeric(entry, numeric) = state {
            let key = format!("{:?}", entry.metric_id);
            let Some(name) = self.names.get(&key).cloned() else {
                return;
            };
            let (value, count) = match numeric {
                NumericEntry::Value(v) => (v, 1),
                NumericEntry::Aggregated {
                    aggregated_value,
                    count,
                } => (aggregated_value, count),
            };
            let split = if train {
                &mut self.train
            } else {
                &mut self.valid
            };
            split.add(&name, value, count);
        }
    }

    fn finish_valid(&mut self) {
        if self.valid.items > 0 {
            println!(
                "epoch {}/{} valid  {}",
                self.valid.epoch,
                self.total_epochs,
                self.valid.summary()
            );
            self.valid.items = 0;
        }
    }

    fn finish_train(&mut self) {
        if self.train.items > 0 {
            println!(
                "epoch {}/{} train  {}  ({:.0} items/s)",
                self.train.epoch,
                self.total_epochs,
                self.train.summary(),
                self.train.rate()
            );
            self.train.items = 0;
        }
    }
}

impl MetricsRendererTraining for LineRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(state, true);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(state, false);
    }

    fn render_train(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        let epoch = item.global_progress.items_processed;
        self.total_epochs = item.global_progress.items_total;
        if epoch != self.train.epoch {
            self.finish_valid();
            self.train.reset(epoch);
        }
        if let Some(progress) = &item.progress {
            self.train.items = progress.items_processed;
            if progress.items_processed >= progress.items_total {
                self.finish_train();
            } else if self.last_print.elapsed() >= self.interval {
                self.last_print = Instant::now();
                println!(
                    "epoch {}/{} [{:>3.0}%]  {}  ({:.0} items/s)",
                    epoch,
                    self.total_epochs,
                    100.0 * progress.items_processed as f64 / progress.items_total.max(1) as f64,
                    self.train.summary(),
                    self.train.rate()
                );
            }
        }
    }

    fn render_valid(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        let epoch = item.global_progress.items_processed;
        if epoch != self.valid.epoch {
            self.finish_train();
            self.valid.reset(epoch);
        }
        if let Some(progress) = &item.progress {
            self.valid.items = progress.items_processed;
            if progress.items_processed >= progress.items_total {
                self.finish_valid();
            }
        }
    }

    fn on_train_end(
        &mut self,
        _summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        self.finish_train();
        self.finish_valid();
        Ok(())
    }
}

impl MetricsRendererEvaluation for LineRenderer {
    fn update_test(&mut self, _name: EvaluationName, state: MetricState) {
        self.record(state, false);
    }

    fn render_test(&mut self, _item: EvaluationProgress, _indicators: Vec<ProgressType>) {}
}

impl MetricsRenderer for LineRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(format!("{:?}", definition.metric_id), definition.name);
    }
}
