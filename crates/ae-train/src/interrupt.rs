//! Ctrl-C during training: the first press stops the run after the current step, and the
//! trainer saves the model before exiting; a second press exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use burn::train::Interrupter;
use signal_hook::SigId;
use signal_hook::consts::SIGINT;

use crate::TrainError;
use crate::progress::Reporter;

/// Exit status after a second Ctrl-C (128 + SIGINT, as shells report it).
const FORCED_EXIT: i32 = 130;

/// Watches for Ctrl-C while a training loop runs and asks burn-train's loop to stop.
pub struct CtrlCWatch {
    pressed: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    signals: Vec<SigId>,
    poller: Option<JoinHandle<()>>,
}

impl CtrlCWatch {
    /// Installs the handlers; `interrupter` is stopped on the first Ctrl-C, which is told to
    /// `reporter`.
    pub fn install(interrupter: Interrupter, reporter: Reporter) -> Result<Self, TrainError> {
        let pressed = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let register = |e: std::io::Error| {
            TrainError::Invalid(format!("cannot install the Ctrl-C handler: {e}"))
        };
        // Order matters: the conditional exit sees the flag as the first press left it.
        let forced =
            signal_hook::flag::register_conditional_shutdown(SIGINT, FORCED_EXIT, pressed.clone())
                .map_err(register)?;
        let first = signal_hook::flag::register(SIGINT, pressed.clone()).map_err(register)?;
        let poller = {
            let (pressed, done) = (pressed.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    if pressed.load(Ordering::Relaxed) {
                        reporter.notice(
                            "Ctrl-C: stopping after this step and saving the model (press again to quit now)",
                        );
                        interrupter.stop(Some("interrupted by Ctrl-C"));
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        Ok(Self {
            pressed,
            done,
            signals: vec![forced, first],
            poller: Some(poller),
        })
    }

    /// Removes the handlers; returns whether Ctrl-C was pressed.
    pub fn finish(mut self) -> bool {
        self.stop();
        self.pressed.load(Ordering::Relaxed)
    }

    fn stop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        for id in self.signals.drain(..) {
            signal_hook::low_level::unregister(id);
        }
        if let Some(poller) = self.poller.take() {
            let _ = poller.join();
        }
    }
}

impl Drop for CtrlCWatch {
    fn drop(&mut self) {
        self.stop();
    }
}
