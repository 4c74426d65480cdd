//! Ctrl-C, SIGTERM and SIGHUP during training: the first stops the run after the current step,
//! and the trainer saves the model before exiting; a second one exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use burn::train::Interrupter;
use signal_hook::SigId;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::TrainError;
use crate::progress::Reporter;

/// Exit status after a second signal (128 + SIGINT, as shells report an interrupted program).
pub const INTERRUPTED_EXIT: i32 = 130;

/// The signals that stop a run, with the names its messages use.
const SIGNALS: [(i32, &str); 3] = [(SIGINT, "Ctrl-C"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")];

/// The name of signal `number`.
fn name(number: usize) -> &'static str {
    SIGNALS
        .iter()
        .find(|(s, _)| *s as usize == number)
        .map_or("a signal", |(_, n)| n)
}

/// Watches for Ctrl-C, SIGTERM and SIGHUP while a training loop runs, and asks burn-train's
/// loop to stop.
pub struct CtrlCWatch {
    received: Arc<AtomicUsize>,
    done: Arc<std::sync::atomic::AtomicBool>,
    signals: Vec<SigId>,
    poller: Option<JoinHandle<()>>,
}

impl CtrlCWatch {
    /// Installs the handlers; `interrupter` is stopped on the first signal, which is told to
    /// `reporter`.
    pub fn install(interrupter: Interrupter, reporter: Reporter) -> Result<Self, TrainError> {
        // The number of the signal received (0: none yet).
        let received = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let register = |e: std::io::Error| {
            TrainError::Invalid(format!("cannot install the signal handlers: {e}"))
        };
        let mut ids = Vec::new();
        let pressed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        for (signal, _) in SIGNALS {
            // Order matters: the conditional exit sees the flag as the first signal left it.
            ids.push(
                signal_hook::flag::register_conditional_shutdown(
                    signal,
                    INTERRUPTED_EXIT,
                    pressed.clone(),
                )
                .map_err(register)?,
            );
            ids.push(signal_hook::flag::register(signal, pressed.clone()).map_err(register)?);
            ids.push(
                signal_hook::flag::register_usize(signal, received.clone(), signal as usize)
                    .map_err(register)?,
            );
        }
        let poller = {
            let (received, done) = (received.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    let signal = received.load(Ordering::Relaxed);
                    if signal != 0 {
                        let name = name(signal);
                        reporter.notice(format!(
                            "{name}: stopping after this step and saving the model (send it again to quit now)"
                        ));
                        interrupter.stop(Some(&format!("interrupted by {name}")));
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        Ok(Self {
            received,
            done,
            signals: ids,
            poller: Some(poller),
        })
    }

    /// Removes the handlers; returns the name of the signal received, if one was.
    pub fn finish(mut self) -> Option<&'static str> {
        self.stop();
        match self.received.load(Ordering::Relaxed) {
            0 => None,
            signal => Some(name(signal)),
        }
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
