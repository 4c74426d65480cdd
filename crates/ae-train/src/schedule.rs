//! Learning-rate schedules, as one scheduler type so the trainer is compiled once.

use burn::optim::LearningRate;
use burn::optim::lr_scheduler::LrScheduler;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// How the learning rate changes over optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LrSchedule {
    /// The same rate throughout.
    #[default]
    Constant,
    /// Cosine decay from the initial rate to `final_fraction` of it over the whole run.
    Cosine {
        /// Final rate as a fraction of the initial one.
        #[serde(default)]
        final_fraction: f64,
    },
    /// Multiply the rate by `gamma` every `every_epochs` epochs.
    Step {
        /// Epochs between decays.
        every_epochs: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// Burda et al. (2016): stage i = 0, 1, 2, … lasts `growth`^i epochs (3 in the paper) at
    /// the initial rate × 10^(−i/7). Eight stages make the paper's 3,280 epochs; a shorter run
    /// is simply fewer epochs (1 + 3 + 9 + 27 + 81 = 121 for five stages).
    Burda {
        /// Factor by which each stage is longer than the one before.
        #[serde(default = "default_growth")]
        growth: usize,
    },
}

fn default_growth() -> usize {
    3
}

impl LrSchedule {
    /// Checks the schedule's parameters: every rate it gives must be positive and finite.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Cosine { final_fraction } => {
                if !(final_fraction.is_finite() && (0.0..=1.0).contains(&final_fraction)) {
                    return Err(format!(
                        "training.lr_schedule.final_fraction must be in [0, 1], got {final_fraction}"
                    ));
                }
                Ok(())
            }
            LrSchedule::Step {
                every_epochs,
                gamma,
            } => {
                if every_epochs == 0 {
                    return Err("training.lr_schedule.every_epochs must be at least 1".into());
                }
                if !(gamma.is_finite() && gamma > 0.0) {
                    return Err(format!(
                        "training.lr_schedule.gamma must be a positive number, got {gamma}"
                    ));
                }
                Ok(())
            }
            LrSchedule::Burda { growth } => {
                if growth == 0 {
                    return Err("training.lr_schedule.growth must be at least 1".into());
                }
                Ok(())
            }
        }
    }
}

/// The stage of Burda et al.'s schedule that a 0-based `epoch` falls in.
pub fn burda_stage(epoch: usize, growth: usize) -> usize {
    let growth = growth.max(1);
    let (mut stage, mut end, mut length) = (0usize, 1usize, 1usize);
    while epoch >= end {
        stage += 1;
        length = length.saturating_mul(growth);
        end = end.saturating_add(length);
    }
    stage
}

/// A schedule bound to an initial rate and the run's length; its state is the step count.
#[derive(Debug, Clone)]
pub struct Scheduler {
    schedule: LrSchedule,
    initial: f64,
    total_steps: usize,
    steps_per_epoch: usize,
    step: usize,
}

impl Scheduler {
    /// A scheduler for `total_steps` steps of `steps_per_epoch` each.
    pub fn new(
        schedule: LrSchedule,
        initial: f64,
        total_steps: usize,
        steps_per_epoch: usize,
    ) -> Self {
        Self {
            schedule,
            initial,
            total_steps: total_steps.max(1),
            steps_per_epoch: steps_per_epoch.max(1),
            step: 0,
        }
    }

    /// The rate at a given (0-based) step.
    pub fn rate_at(&self, step: usize) -> f64 {
        match self.schedule {
            LrSchedule::Constant => self.initial,
            LrSchedule::Cosine { final_fraction } => {
                let progress = (step as f64 / self.total_steps as f64).min(1.0);
                let floor = self.initial * final_fraction;
                floor
                    + (self.initial - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
            LrSchedule::Step {
                every_epochs,
                gamma,
            } => {
                let epoch = step / self.steps_per_epoch;
                self.initial * gamma.powi((epoch / every_epochs.max(1)) as i32)
            }
            LrSchedule::Burda { growth } => {
                let stage = burda_stage(step / self.steps_per_epoch, growth);
                self.initial * 10f64.powf(-(stage as f64) / 7.0)
            }
        }
    }
}

impl LrScheduler for Scheduler {
    type Record<B: Backend> = usize;

    fn step(&mut self) -> LearningRate {
        let rate = self.rate_at(self.step);
        self.step += 1;
        rate
    }

    fn to_record<B: Backend>(&self) -> usize {
        self.step
    }

    fn load_record<B: Backend>(mut self, record: usize) -> Self {
        self.step = record;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_that_give_bad_rates_are_refused() {
        for (bad, needle) in [
            (
                LrSchedule::Cosine {
                    final_fraction: -0.5,
                },
                "final_fraction",
            ),
            (
                LrSchedule::Cosine {
                    final_fraction: f64::NAN,
                },
                "final_fraction",
            ),
            (
                LrSchedule::Step {
                    every_epochs: 0,
                    gamma: 0.5,
                },
                "every_epochs",
            ),
            (
                LrSchedule::Step {
                    every_epochs: 2,
                    gamma: -0.1,
                },
                "gamma",
            ),
            (
                LrSchedule::Step {
                    every_epochs: 2,
                    gamma: f64::NAN,
                },
                "gamma",
            ),
            (LrSchedule::Burda { growth: 0 }, "growth"),
        ] {
            let e = bad.validate().unwrap_err();
            assert!(e.contains(needle), "{bad:?}: {e}");
        }
        for good in [
            LrSchedule::Constant,
            LrSchedule::Cosine {
                final_fraction: 0.0,
            },
            LrSchedule::Step {
                every_epochs: 2,
                gamma: 1e12,
            },
            LrSchedule::Burda { growth: 3 },
        ] {
            good.validate().unwrap();
        }
    }

    #[test]
    fn cosine_starts_at_initial_and_ends_at_floor() {
        let s = Scheduler::new(
            LrSchedule::Cosine {
                final_fraction: 0.1,
            },
            1e-3,
            100,
            10,
        );
        assert!((s.rate_at(0) - 1e-3).abs() < 1e-12);
        assert!((s.rate_at(50) - 0.55e-3).abs() < 1e-9);
        assert!((s.rate_at(100) - 1e-4).abs() < 1e-12);
    }

    #[test]
    fn burda_stages_last_powers_of_three_epochs() {
        // Stage boundaries at epochs 1, 4, 13, 40, 121, …, 3280.
        let stages: Vec<usize> = [0, 1, 3, 4, 12, 13, 39, 40, 120, 121, 3279]
            .iter()
            .map(|&e| burda_stage(e, 3))
            .collect();
        assert_eq!(stages, vec![0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7]);
        let s = Scheduler::new(LrSchedule::Burda { growth: 3 }, 1e-3, 1000, 10);
        assert!((s.rate_at(9) - 1e-3).abs() < 1e-15);
        // Epoch 13 (step 130) starts stage 3: 1e-3 · 10^(−3/7).
        assert!((s.rate_at(130) - 1e-3 * 10f64.powf(-3.0 / 7.0)).abs() < 1e-15);
        assert!(s.rate_at(129) > s.rate_at(130));
    }

    #[test]
    fn step_schedule_decays_per_epoch_block() {
        let s = Scheduler::new(
            LrSchedule::Step {
                every_epochs: 2,
                gamma: 0.5,
            },
            1.0,
            100,
            10,
        );
        assert_eq!(s.rate_at(19), 1.0);
        assert_eq!(s.rate_at(20), 0.5);
        assert_eq!(s.rate_at(45), 0.25);
    }
}
