//! Training metrics read from [`StepStats`]: loss, reconstruction, KL, ELBO and squared error,
//! plus the divergence watch that stops a run whose loss is no longer finite.

use std::sync::{Arc, Mutex};

use burn::train::Interrupter;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

use crate::step::StepStats;

/// Which term a [`StatMetric`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// The objective; named `Loss` so burn-train's default checkpoint choice uses it.
    Loss,
    /// Reconstruction term.
    Reconstruction,
    /// KL term.
    Kl,
    /// ELBO (negative of reconstruction + KL), in nats per example.
    Elbo,
    /// Squared error of the mean reconstruction.
    SquaredError,
}

impl Stat {
    /// The metric's display name.
    pub fn name(self) -> &'static str {
        match self {
            Stat::Loss => "Loss",
            Stat::Reconstruction => "Reconstruction",
            Stat::Kl => "KL",
            Stat::Elbo => "ELBO",
            Stat::SquaredError => "Squared Error",
        }
    }

    fn read(self, stats: &StepStats) -> Option<f64> {
        match self {
            Stat::Loss => Some(stats.loss),
            Stat::Reconstruction => Some(stats.reconstruction),
            Stat::Kl => stats.kl,
            Stat::Elbo => Some(-stats.negative_elbo),
            Stat::SquaredError => Some(stats.squared_error),
        }
    }
}

/// Shared record of why training diverged, if it did.
#[derive(Clone, Default)]
pub struct DivergenceWatch {
    interrupter: Option<Interrupter>,
    reason: Arc<Mutex<Option<String>>>,
}

impl DivergenceWatch {
    /// A watch that stops training through `interrupter`.
    pub fn new(interrupter: Interrupter) -> Self {
        Self {
            interrupter: Some(interrupter),
            reason: Arc::default(),
        }
    }

    /// Why training diverged, if it did.
    pub fn reason(&self) -> Option<String> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }

    fn check(&self, stats: &StepStats, metadata: &MetricMetadata) {
        if stats.loss.is_finite() || self.reason().is_some() {
            return;
        }
        let term = if !stats.reconstruction.is_finite() {
            "the reconstruction term"
        } else if stats.kl.is_some_and(|kl| !kl.is_finite()) {
            "the KL term"
        } else {
            "the loss"
        };
        let message = format!(
            "{term} became {} at epoch {}, step {} (try a lower learning rate, gradient clipping or KL warm-up)",
            stats.loss,
            metadata.global_progress.items_processed,
            metadata.iteration.unwrap_or(0)
        );
        if let Ok(mut reason) = self.reason.lock() {
            *reason = Some(message.clone());
        }
        if let Some(interrupter) = &self.interrupter {
            interrupter.stop(Some(&message));
        }
    }
}

/// One loss term as a burn-train numeric metric.
#[derive(Clone)]
pub struct StatMetric {
    stat: Stat,
    name: MetricName,
    state: NumericMetricState,
    watch: Option<DivergenceWatch>,
}

impl StatMetric {
    /// A metric reporting `stat`.
    pub fn new(stat: Stat) -> Self {
        Self {
            stat,
            name: Arc::new(stat.name().to_string()),
            state: NumericMetricState::default(),
            watch: None,
        }
    }

    /// Also checks every batch for a non-finite loss.
    pub fn watching(mut self, watch: DivergenceWatch) -> Self {
        self.watch = Some(watch);
        self
    }
}

impl Metric for StatMetric {
    type Input = StepStats;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: self.stat == Stat::Elbo,
        }
        .into()
    }

    fn update(&mut self, stats: &StepStats, metadata: &MetricMetadata) -> SerializedEntry {
        if let Some(watch) = &self.watch {
            watch.check(stats, metadata);
        }
        let value = self.stat.read(stats).unwrap_or(0.0);
        self.state.update(
            value,
            stats.batch_size,
            FormatOptions::new(self.name.clone()).precision(3),
        )
    }

    fn clear(&mut self) {
        self.state.reset();
    }
}

impl Numeric for StatMetric {
    fn value(&self) -> NumericEntry {
        self.state.current_value()
    }

    fn running_value(&self) -> NumericEntry {
        self.state.running_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataloader::Progress;

    fn metadata() -> MetricMetadata {
        MetricMetadata {
            progress: Progress {
                items_processed: 10,
                items_total: 100,
            },
            global_progress: Progress {
                items_processed: 2,
                items_total: 5,
            },
            iteration: Some(17),
            lr: None,
        }
    }

    fn stats(reconstruction: f64, kl: f64) -> StepStats {
        StepStats::from_sums(
            &[
                (reconstruction + kl) as f32,
                reconstruction as f32,
                kl as f32,
                1.0,
            ],
            1,
            true,
        )
    }

    #[test]
    fn a_finite_loss_passes_and_a_nan_term_stops_training_naming_it() {
        let interrupter = Interrupter::new();
        let watch = DivergenceWatch::new(interrupter.clone());
        let mut metric = StatMetric::new(Stat::Loss).watching(watch.clone());
        metric.update(&stats(100.0, 20.0), &metadata());
        assert!(!interrupter.should_stop());
        assert_eq!(watch.reason(), None);

        metric.update(&stats(100.0, f64::INFINITY), &metadata());
        assert!(interrupter.should_stop());
        let reason = watch.reason().unwrap();
        assert!(
            reason.contains("KL term") && reason.contains("epoch 2") && reason.contains("step 17"),
            "{reason}"
        );

        let interrupter = Interrupter::new();
        let watch = DivergenceWatch::new(interrupter.clone());
        let mut metric = StatMetric::new(Stat::Loss).watching(watch.clone());
        metric.update(&stats(f64::NAN, 1.0), &metadata());
        assert!(watch.reason().unwrap().contains("reconstruction term"));
    }

    #[test]
    fn elbo_is_the_negative_of_reconstruction_plus_kl() {
        let s = stats(100.0, 20.0);
        assert_eq!(Stat::Elbo.read(&s), Some(-120.0));
        assert_eq!(Stat::Kl.read(&s), Some(20.0));
        assert_eq!(Stat::SquaredError.read(&s), Some(1.0));
    }
}
