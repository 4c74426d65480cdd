//! Progress on stderr: bars with an ETA on a terminal (indicatif), plain lines elsewhere.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use ae_toolkit::Progress;
use ae_toolkit::harness::progress::format_duration;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Positions of a training bar per epoch (a bar counts whole numbers).
const STEPS_PER_EPOCH: u64 = 1000;

/// Draws [`Progress`] reports as bars: one for the training run, one per counted task; lines
/// that should stay (epoch summaries, notices, finished work) are printed above them.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    /// Bars drawn on stderr.
    pub fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Shows one report.
    pub fn show(&self, progress: &Progress) {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        match progress {
            Progress::Step {
                epoch,
                epochs,
                fraction,
                ..
            } => {
                let bar = self.bar(&mut bars, "training", *epochs as u64 * STEPS_PER_EPOCH);
                bar.set_position(position(*epoch, *fraction));
                bar.set_message(step_message(progress));
            }
            Progress::Epoch {
                split,
                epoch,
                epochs,
                ..
            } => {
                let bar = self.bar(&mut bars, "training", *epochs as u64 * STEPS_PER_EPOCH);
                if *split == "train" {
                    bar.set_position(position(*epoch, 1.0));
                }
                self.line(&progress.to_string());
                if *split == "valid" && epoch >= epochs {
                    bar.finish_and_clear();
                    bars.remove("training");
                }
            }
            Progress::Work {
                task, done, total, ..
            } => {
                let bar = self.bar(&mut bars, task, *total as u64);
                bar.set_position(*done as u64);
                bar.set_message(work_message(progress));
                if done >= total {
                    bar.finish_and_clear();
                    bars.remove(task);
                    self.line(&progress.to_string());
                }
            }
            Progress::Pretraining(_) | Progress::Notice { .. } => self.line(&progress.to_string()),
        }
    }

    /// The bar named `name`, made with `length` positions if it does not exist.
    fn bar(&self, bars: &mut HashMap<String, ProgressBar>, name: &str, length: u64) -> ProgressBar {
        bars.entry(name.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new(length));
                let style = ProgressStyle::with_template("{prefix} [{bar:30}] {percent:>3}% {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(name.to_string());
                bar.enable_steady_tick(Duration::from_millis(500));
                bar
            })
            .clone()
    }

    /// A line printed above the bars (lost, like any progress, if stderr is closed).
    fn line(&self, text: &str) {
        if self.multi.println(text).is_err() {
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }
}

/// A training bar's position at `fraction` of epoch `epoch` (from 1).
fn position(epoch: usize, fraction: f64) -> u64 {
    let done = epoch.saturating_sub(1) as f64 + fraction.clamp(0.0, 1.0);
    (done * STEPS_PER_EPOCH as f64) as u64
}

/// `epoch 3/10  Loss 109.2 …  (16500 items/s)  about 2 min left`.
fn step_message(progress: &Progress) -> String {
    let Progress::Step {
        epoch,
        epochs,
        metrics,
        items_per_second,
        eta_seconds,
        ..
    } = progress
    else {
        return String::new();
    };
    let mut text = format!("epoch {epoch}/{epochs}");
    for (name, value) in metrics {
        text.push_str(&format!("  {name} {value:.3}"));
    }
    if let Some(rate) = items_per_second {
        text.push_str(&format!("  ({rate:.0} items/s)"));
    }
    if let Some(eta) = eta_seconds {
        text.push_str(&format!("  about {} left", format_duration(*eta)));
    }
    text
}

/// `250/1000 items  about 2 min left`.
fn work_message(progress: &Progress) -> String {
    let Progress::Work {
        unit, done, total, ..
    } = progress
    else {
        return String::new();
    };
    let mut text = format!("{done}/{total} {unit}");
    if let Some(eta) = progress.eta_seconds() {
        text.push_str(&format!("  about {} left", format_duration(eta)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_counts_and_the_eta() {
        let work = Progress::Work {
            task: "nll".into(),
            unit: "items",
            done: 250,
            total: 1000,
            seconds: 30.0,
        };
        assert_eq!(work_message(&work), "250/1000 items  about 2 min left");
        let step = Progress::Step {
            epoch: 3,
            epochs: 10,
            fraction: 0.5,
            metrics: vec![("Loss".into(), 109.25)],
            items_per_second: Some(16500.0),
            eta_seconds: Some(30.0),
        };
        assert_eq!(
            step_message(&step),
            "epoch 3/10  Loss 109.250  (16500 items/s)  about 30 s left"
        );
        assert_eq!(position(3, 0.5), 2500);
        assert_eq!(position(1, 2.0), 1000);
    }

    #[test]
    fn bars_follow_the_work_and_go_when_it_ends() {
        let bars = Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            bars: Mutex::new(HashMap::new()),
        };
        let work = |done| Progress::Work {
            task: "encode".into(),
            unit: "items",
            done,
            total: 10,
            seconds: 1.0,
        };
        bars.show(&work(4));
        let position = bars.bars.lock().unwrap()["encode"].position();
        assert_eq!(position, 4);
        bars.show(&work(10));
        assert!(
            bars.bars.lock().unwrap().is_empty(),
            "a finished bar is removed"
        );
    }
}
