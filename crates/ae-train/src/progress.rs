//! Progress of long work, reported through a callback: the library prints nothing; a program
//! decides where the lines go (the `ae` binary writes them to stderr).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ae_analysis::Stage;
use serde::Serialize;

use crate::pretraining::RbmEpoch;

/// One report of long work in progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Progress {
    /// Part of a training epoch is done (reported every few seconds).
    Step {
        /// The epoch, from 1.
        epoch: usize,
        /// Epochs in the run.
        epochs: usize,
        /// Fraction of the epoch's items done.
        fraction: f64,
        /// Running means of the epoch's metrics, by name.
        metrics: Vec<(String, f64)>,
        /// Training items per second so far in the epoch.
        items_per_second: Option<f64>,
        /// Estimated seconds left of the run (from the pace since this process began it).
        eta_seconds: Option<f64>,
    },
    /// An epoch finished on a split (`train` or `valid`).
    Epoch {
        /// `train` or `valid`.
        split: &'static str,
        /// The epoch, from 1.
        epoch: usize,
        /// Epochs in the run.
        epochs: usize,
        /// The epoch's means of the metrics, by name.
        metrics: Vec<(String, f64)>,
        /// Items per second over the epoch (training only).
        items_per_second: Option<f64>,
        /// Estimated seconds left of the run (training only).
        eta_seconds: Option<f64>,
    },
    /// An RBM of a pretrained stack finished an epoch.
    Pretraining(RbmEpoch),
    /// Work counted in units: `done` of `total` after `seconds`.
    Work {
        /// What is being done, e.g. `nll` or `encode`.
        task: String,
        /// The unit counted, e.g. `items` or `steps`.
        unit: &'static str,
        /// Units done.
        done: usize,
        /// Units in all.
        total: usize,
        /// Seconds since the work began.
        seconds: f64,
    },
    /// A notice: a Ctrl-C press, a file that could not be written, a step starting.
    Notice {
        /// What to tell.
        text: String,
    },
}

/// `N s`, `N min` or `N h M min`.
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 5400.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        let minutes = (s / 60.0).round() as u64;
        format!("{} h {} min", minutes / 60, minutes % 60)
    }
}

impl Progress {
    /// The estimated seconds left of counted work, once some is done.
    pub fn eta_seconds(&self) -> Option<f64> {
        match self {
            Progress::Work {
                done,
                total,
                seconds,
                ..
            } if *done > 0 && done < total => Some(seconds / *done as f64 * (total - done) as f64),
            _ => None,
        }
    }
}

fn metric_text(metrics: &[(String, f64)]) -> String {
    metrics
        .iter()
        .map(|(n, v)| format!("{n} {v:.3}"))
        .collect::<Vec<_>>()
        .join("  ")
}

fn rate_text(rate: Option<f64>) -> String {
    rate.map(|r| format!("  ({r:.0} items/s)"))
        .unwrap_or_default()
}

fn eta_text(eta: Option<f64>) -> String {
    eta.map(|s| format!(", about {} left", format_duration(s)))
        .unwrap_or_default()
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Step {
                epoch,
                epochs,
                fraction,
                metrics,
                items_per_second,
                eta_seconds,
            } => write!(
                f,
                "epoch {epoch}/{epochs} [{:>3.0}%]  {}{}{}",
                100.0 * fraction,
                metric_text(metrics),
                rate_text(*items_per_second),
                eta_text(*eta_seconds)
            ),
            Progress::Epoch {
                split,
                epoch,
                epochs,
                metrics,
                items_per_second,
                eta_seconds,
            } => write!(
                f,
                "epoch {epoch}/{epochs} {split}  {}{}{}",
                metric_text(metrics),
                rate_text(*items_per_second),
                eta_text(*eta_seconds)
            ),
            Progress::Pretraining(e) => {
                write!(
                    f,
                    "pretraining RBM {}/{} ({}-{}) epoch {}/{}: reconstruction error {:.3} ({:.0} s",
                    e.layer,
                    e.layers,
                    e.visible,
                    e.hidden,
                    e.epoch,
                    e.epochs,
                    e.reconstruction_error,
                    e.seconds
                )?;
                if e.seconds_left > 0.0 {
                    write!(f, ", about {} left", format_duration(e.seconds_left))?;
                }
                f.write_str(")")
            }
            Progress::Work {
                task,
                unit,
                done,
                total,
                seconds,
            } => {
                write!(
                    f,
                    "{task}: {done}/{total} {unit}, {}",
                    format_duration(*seconds)
                )?;
                if let Some(eta) = self.eta_seconds() {
                    write!(f, ", about {} left", format_duration(eta))?;
                }
                Ok(())
            }
            Progress::Notice { text } => f.write_str(text),
        }
    }
}

type Callback = dyn Fn(&Progress) + Send + Sync;

/// Where progress goes: a callback shared by the threads of the work (cheap to clone).
#[derive(Clone)]
pub struct Reporter {
    callback: Arc<Callback>,
    /// The longest wait between reports of counted work, if the caller wants them more often
    /// than the work's own interval (a progress bar does).
    pace: Option<Duration>,
}

impl Reporter {
    /// A reporter calling `callback` with every report.
    pub fn new(callback: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        Self {
            callback: Arc::new(callback),
            pace: None,
        }
    }

    /// This reporter, with counted work reported at least every `pace` (training steps
    /// included, where the caller leaves their interval unset).
    pub fn with_pace(mut self, pace: Duration) -> Self {
        self.pace = Some(pace);
        self
    }

    /// The pace set by [`Reporter::with_pace`].
    pub fn pace(&self) -> Option<Duration> {
        self.pace
    }

    /// A reporter that drops every report.
    pub fn silent() -> Self {
        Self::new(|_| {})
    }

    /// Reports `progress`.
    pub fn report(&self, progress: &Progress) {
        (self.callback)(progress)
    }

    /// Reports a notice.
    pub fn notice(&self, text: impl Into<String>) {
        self.report(&Progress::Notice { text: text.into() })
    }

    /// A counter of `total` units of `task`, reporting at most every `interval` (and at the
    /// end).
    pub fn counter(
        &self,
        task: impl Into<String>,
        unit: &'static str,
        total: usize,
        interval: Duration,
    ) -> WorkCounter {
        WorkCounter {
            reporter: self.clone(),
            task: task.into(),
            unit,
            total,
            interval: self.pace.map_or(interval, |pace| pace.min(interval)),
            started: Instant::now(),
            last: None,
        }
    }
}

impl Reporter {
    /// Counters for work in named stages whose totals are known only as each begins (the
    /// progress callbacks of `ae-analysis`: nearest neighbours, then the UMAP layout). Each
    /// stage reports at most every `interval`, and at its end. Shared by threads.
    pub fn stages(&self, interval: Duration) -> StageCounters {
        StageCounters {
            reporter: self.clone(),
            interval,
            counters: Mutex::new(Vec::new()),
        }
    }
}

/// Counted work in named stages (see [`Reporter::stages`]).
pub struct StageCounters {
    reporter: Reporter,
    interval: Duration,
    counters: Mutex<Vec<(&'static str, WorkCounter)>>,
}

impl StageCounters {
    /// Records `done` of `total` units of `stage`.
    pub fn update(&self, stage: Stage, done: usize, total: usize) {
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let position = match counters.iter().position(|(name, _)| *name == stage.name) {
            Some(position) => position,
            None => {
                let counter = self
                    .reporter
                    .counter(stage.name, stage.unit, total, self.interval);
                counters.push((stage.name, counter));
                counters.len() - 1
            }
        };
        counters[position].1.update(done);
    }
}

impl Default for Reporter {
    fn default() -> Self {
        Self::silent()
    }
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reporter")
    }
}

/// Counts units of work and reports them now and then (see [`Reporter::counter`]).
pub struct WorkCounter {
    reporter: Reporter,
    task: String,
    unit: &'static str,
    total: usize,
    interval: Duration,
    started: Instant,
    last: Option<Instant>,
}

impl WorkCounter {
    /// Records that `done` units are done, reporting when the interval has passed since the
    /// last report or the work is complete.
    pub fn update(&mut self, done: usize) {
        let now = Instant::now();
        let due = self
            .last
            .is_none_or(|last| now.duration_since(last) >= self.interval);
        if due || done >= self.total {
            self.last = Some(now);
            self.reporter.report(&Progress::Work {
                task: self.task.clone(),
                unit: self.unit,
                done,
                total: self.total,
                seconds: now.duration_since(self.started).as_secs_f64(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_before_and_counted_work_has_an_eta() {
        let step = Progress::Epoch {
            split: "valid",
            epoch: 2,
            epochs: 5,
            metrics: vec![("Loss".into(), 101.25), ("KL".into(), 3.0)],
            items_per_second: None,
            eta_seconds: None,
        };
        assert_eq!(step.to_string(), "epoch 2/5 valid  Loss 101.250  KL 3.000");
        let train = Progress::Epoch {
            split: "train",
            epoch: 2,
            epochs: 5,
            metrics: vec![("Loss".into(), 99.5)],
            items_per_second: Some(3000.4),
            eta_seconds: Some(150.0),
        };
        assert_eq!(
            train.to_string(),
            "epoch 2/5 train  Loss 99.500  (3000 items/s), about 2 min left"
        );
        let work = Progress::Work {
            task: "nll".into(),
            unit: "items",
            done: 250,
            total: 1000,
            seconds: 30.0,
        };
        assert_eq!(work.eta_seconds(), Some(90.0));
        assert_eq!(
            work.to_string(),
            "nll: 250/1000 items, 30 s, about 2 min left"
        );
        assert_eq!(format_duration(7300.0), "2 h 2 min");
    }

    #[test]
    fn stages_count_separately_and_a_pace_shortens_the_interval() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let reporter = Reporter::new(move |p| sink.lock().unwrap().push(p.to_string()));
        let stages = reporter.stages(Duration::from_secs(3600));
        stages.update(Stage::NEIGHBOURS, 256, 600);
        stages.update(Stage::NEIGHBOURS, 512, 600);
        stages.update(Stage::NEIGHBOURS, 600, 600);
        stages.update(Stage::UMAP_LAYOUT, 0, 50);
        stages.update(Stage::UMAP_LAYOUT, 50, 50);
        // Each line up to its time: `stage: done/total unit`.
        let counts: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|line| line.split(',').next().unwrap().to_string())
            .collect();
        assert_eq!(
            counts,
            [
                "nearest neighbours: 256/600 rows",
                "nearest neighbours: 600/600 rows",
                "UMAP layout: 0/50 epochs",
                "UMAP layout: 50/50 epochs",
            ]
        );
        // With a pace of zero every update is reported, however long the work's interval.
        seen.lock().unwrap().clear();
        let paced = reporter.clone().with_pace(Duration::ZERO);
        assert_eq!(paced.pace(), Some(Duration::ZERO));
        let mut counter = paced.counter("encode", "items", 10, Duration::from_secs(3600));
        for done in 1..=3 {
            counter.update(done);
        }
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[test]
    fn a_counter_reports_the_first_update_and_the_end() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let reporter = Reporter::new(move |p| sink.lock().unwrap().push(p.to_string()));
        let mut counter = reporter.counter("encode", "items", 10, Duration::from_secs(3600));
        counter.update(1);
        counter.update(5);
        counter.update(10);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(seen[1].starts_with("encode: 10/10 items"), "{seen:?}");
    }
}
