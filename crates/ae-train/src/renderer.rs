//! burn-train's training progress as [`Progress`] reports: one per epoch and split, and steps
//! within an epoch now and then, with the run's ETA.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use burn::train::LearnerSummary;
use burn::train::metric::{MetricDefinition, NumericEntry};
use burn::train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};

use crate::progress::{Progress, Reporter};

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

    fn metrics(&self) -> Vec<(String, f64)> {
        self.sums
            .iter()
            .filter(|(_, _, c)| *c > 0)
            .map(|(n, s, c)| (n.clone(), s / *c as f64))
            .collect()
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

    /// Items per second so far, or `None` while there is no rate yet.
    fn rate(&self) -> Option<f64> {
        self.rate_at(Instant::now())
    }
}

/// Reports one [`Progress::Epoch`] per epoch and split, plus a [`Progress::Step`] every few
/// seconds.
pub struct LineRenderer {
    reporter: Reporter,
    names: HashMap<String, String>,
    train: SplitState,
    valid: SplitState,
    interval: Duration,
    last_print: Instant,
    total_epochs: usize,
    /// When this process first saw training progress, and the run's fraction done then (a
    /// resumed run starts past 0): the ETA extrapolates the pace since.
    began: Option<(Instant, f64)>,
}

/// Seconds left of work at `fraction` done, from the pace since `began`; `None` until there
/// is a pace to go by.
pub fn eta_seconds(began: (Instant, f64), now: Instant, fraction: f64) -> Option<f64> {
    let (start, start_fraction) = began;
    let elapsed = now.duration_since(start).as_secs_f64();
    let gained = fraction - start_fraction;
    (elapsed >= 1.0 && gained > 1e-6).then(|| elapsed * (1.0 - fraction).max(0.0) / gained)
}

impl LineRenderer {
    /// A renderer reporting to `reporter`, within an epoch at most every `interval`.
    pub fn new(reporter: Reporter, interval: Duration) -> Self {
        Self {
            reporter,
            names: HashMap::new(),
            train: SplitState::default(),
            valid: SplitState::default(),
            interval,
            last_print: Instant::now(),
            total_epochs: 0,
            began: None,
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

    /// The run's ETA at `epochs_done` (fractional) of its epochs.
    fn eta(&self, epochs_done: f64) -> Option<f64> {
        let fraction = epochs_done / self.total_epochs.max(1) as f64;
        eta_seconds(self.began?, Instant::now(), fraction)
    }

    fn finish_valid(&mut self) {
        if self.valid.items > 0 {
            self.reporter.report(&Progress::Epoch {
                split: "valid",
                epoch: self.valid.epoch,
                epochs: self.total_epochs,
                metrics: self.valid.metrics(),
                items_per_second: None,
                eta_seconds: None,
            });
            self.valid.items = 0;
        }
    }

    fn finish_train(&mut self) {
        if self.train.items > 0 {
            self.reporter.report(&Progress::Epoch {
                split: "train",
                epoch: self.train.epoch,
                epochs: self.total_epochs,
                metrics: self.train.metrics(),
                items_per_second: self.train.rate(),
                eta_seconds: self.eta(self.train.epoch as f64),
            });
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
            let within = progress.items_processed as f64 / progress.items_total.max(1) as f64;
            let epochs_done = epoch.saturating_sub(1) as f64 + within;
            if self.began.is_none() {
                let fraction = epochs_done / self.total_epochs.max(1) as f64;
                self.began = Some((Instant::now(), fraction));
            }
            if progress.items_processed >= progress.items_total {
                self.finish_train();
            } else if self.last_print.elapsed() >= self.interval
                && self.train.rate_at(Instant::now()).is_some()
            {
                self.last_print = Instant::now();
                self.reporter.report(&Progress::Step {
                    epoch,
                    epochs: self.total_epochs,
                    fraction: within,
                    metrics: self.train.metrics(),
                    items_per_second: self.train.rate(),
                    eta_seconds: self.eta(epochs_done),
                });
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
    fn the_eta_extrapolates_the_pace_since_this_process_began() {
        let t0 = Instant::now();
        // Fresh run: a quarter done after 60 s leaves 180 s.
        let eta = eta_seconds((t0, 0.0), t0 + Duration::from_secs(60), 0.25).unwrap();
        assert!((eta - 180.0).abs() < 1e-9, "{eta}");
        // Resumed at half-way: 60 s for the next quarter leaves 60 s, not the 20 s that
        // counting the earlier half as this process's work would give.
        let eta = eta_seconds((t0, 0.5), t0 + Duration::from_secs(60), 0.75).unwrap();
        assert!((eta - 60.0).abs() < 1e-9, "{eta}");
        // No pace yet: too early, or nothing gained.
        assert_eq!(
            eta_seconds((t0, 0.0), t0 + Duration::from_millis(10), 0.1),
            None
        );
        assert_eq!(
            eta_seconds((t0, 0.3), t0 + Duration::from_secs(9), 0.3),
            None
        );
        // Done: nothing left.
        assert_eq!(
            eta_seconds((t0, 0.0), t0 + Duration::from_secs(9), 1.0),
            Some(0.0)
        );
    }

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
        assert_eq!(split.rate(), None);
    }

    #[test]
    fn summary_averages_weighted_by_count() {
        let mut split = SplitState::default();
        split.add("Loss", 2.0, 1);
        split.add("Loss", 5.0, 3);
        split.add("KL", 1.0, 2);
        assert_eq!(
            split.metrics(),
            [("Loss".to_string(), 4.25), ("KL".to_string(), 1.0)]
        );
    }
}
