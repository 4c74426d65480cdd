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
    /// When the epoch's first progress report came, and how many items it counted: the rate
    /// is measured from there, so the first report of an epoch never shows a rate taken over
    /// a few microseconds.
    started: Option<(Instant, usize)>,
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
        self.started = None;
    }

    /// Records that `items` items of the epoch are done.
    fn advance(&mut self, items: usize) {
        self.advance_at(items, Instant::now());
    }

    fn advance_at(&mut self, items: usize, now: Instant) {
        if self.started.is_none() {
            self.started = Some((now, items));
        }
        self.items = items;
    }

    /// Items per second since the first progress report of the epoch; `None` until items
    /// have been done after it.
    fn rate_at(&self, now: Instant) -> Option<f64> {
        let (start, first_items) = self.started?;
        let secs = now.saturating_duration_since(start).as_secs_f64();
        let done = self.items.saturating_sub(first_items);
        (done > 0 && secs > 0.0).then(|| done as f64 / secs)
    }

    /// `"  (N items/s)"`, or nothing while there is no rate yet.
    fn rate_note(&self) -> String {
        self.rate_at(Instant::now())
            .map(|r| format!("  ({r:.0} items/s)"))
            .unwrap_or_default()
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
                "epoch {}/{} train  {}{}",
                self.train.epoch,
                self.total_epochs,
                self.train.summary(),
                self.train.rate_note()
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
            self.train.advance(progress.items_processed);
            if progress.items_processed >= progress.items_total {
                self.finish_train();
            } else if self.last_print.elapsed() >= self.interval
                && self.train.rate_at(Instant::now()).is_some()
            {
                self.last_print = Instant::now();
                println!(
                    "epoch {}/{} [{:>3.0}%]  {}{}",
                    epoch,
                    self.total_epochs,
                    100.0 * progress.items_processed as f64 / progress.items_total.max(1) as f64,
                    self.train.summary(),
                    self.train.rate_note()
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
            self.valid.advance(progress.items_processed);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_starts_at_the_first_report_of_an_epoch() {
        let mut split = SplitState::default();
        split.reset(1);
        let t0 = Instant::now();
        assert_eq!(split.rate_at(t0), None);
        // The first batch's report: no rate yet, however little time has passed.
        split.advance_at(128, t0);
        assert_eq!(split.rate_at(t0 + Duration::from_micros(3)), None);
        split.advance_at(128 + 1000, t0 + Duration::from_millis(500));
        let rate = split.rate_at(t0 + Duration::from_millis(500)).unwrap();
        assert!((rate - 2000.0).abs() < 1e-6, "{rate}");
        // A new epoch starts its own clock.
        split.reset(2);
        assert_eq!(split.rate_at(t0 + Duration::from_secs(9)), None);
        assert_eq!(split.rate_note(), "");
    }

    #[test]
    fn summary_averages_weighted_by_count() {
        let mut split = SplitState::default();
        split.add("Loss", 2.0, 1);
        split.add("Loss", 5.0, 3);
        split.add("KL", 1.0, 2);
        assert_eq!(split.summary(), "Loss 4.250  KL 1.000");
    }
}
