//! `ae`: train, evaluate and use autoencoders. A thin shell over the `ae-toolkit` library:
//! flags become the library's settings, and each command prints the library's report as one
//! JSON document on stdout; progress, warnings and errors go to stderr.

mod commands;
mod flags;
mod progress;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use ae_toolkit::backend::{BackendChoice, BackendKind, run_on};
use ae_toolkit::{Reporter, ToolkitError};
use anyhow::{Result, anyhow};
use clap::FromArgMatches;

use crate::flags::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::from_arg_matches(&flags::command().get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Command::Completions(args) = &cli.command {
        // The one command whose output is not JSON: a script for the shell.
        let mut script = Vec::new();
        clap_complete::generate(args.shell, &mut flags::command(), "ae", &mut script);
        return match write_stdout(&script) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                let _ = writeln!(std::io::stderr(), "error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let outcome = run(cli).and_then(|report| print(&report));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "error: {}", describe(&error));
            if interrupted(&error) {
                // As shells report a program stopped by Ctrl-C.
                ExitCode::from(ae_toolkit::harness::interrupt::INTERRUPTED_EXIT as u8)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Whether training stopped for Ctrl-C, SIGTERM or SIGHUP (after saving its model).
fn interrupted(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<ToolkitError>(),
            Some(ToolkitError::Train(
                ae_toolkit::harness::TrainError::Interrupted { .. }
            ))
        ) || matches!(
            cause.downcast_ref::<ae_toolkit::harness::TrainError>(),
            Some(ae_toolkit::harness::TrainError::Interrupted { .. })
        )
    })
}

/// Runs the command; returns its report.
fn run(cli: Cli) -> Result<serde_json::Value> {
    ae_toolkit::plot::set_svg_beside(cli.svg);
    if let Command::Pca(args) = &cli.command {
        return commands::pca(args);
    }
    let backend = match cli.backend {
        Some(kind) => kind,
        None => BackendKind::default_compiled()
            .ok_or_else(|| anyhow!("this binary has no backend compiled in"))?,
    };
    let choice = BackendChoice {
        kind: backend,
        wgpu_device: cli.wgpu_device,
    };
    if cli.verbose > 0 {
        let level = if cli.verbose == 1 {
            tracing_subscriber::filter::LevelFilter::INFO
        } else {
            tracing_subscriber::filter::LevelFilter::DEBUG
        };
        // burn logs through `log`; the subscriber takes those records too. A logger set
        // already (by an embedding program) stays.
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(level)
            .try_init();
    }
    let reporter = if cli.quiet {
        Reporter::silent()
    } else if std::io::stderr().is_terminal() && !cli.plain {
        // Bars redrawn twice a second want reports at least every second.
        let bars = progress::Bars::new();
        Reporter::new(move |report| bars.show(report)).with_pace(Duration::from_secs(1))
    } else {
        Reporter::new(|report| {
            // A closed stderr loses the progress line, nothing else.
            let _ = writeln!(std::io::stderr(), "{report}");
        })
    };
    let task = commands::Dispatch {
        command: cli.command,
        backend,
        reporter,
    };
    run_on(choice, task)?
}

/// Writes `report` as pretty JSON to stdout.
fn print(report: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    write_stdout(text.as_bytes())
}

/// Writes `bytes` to stdout. A reader that closed the pipe early is not an error worth a
/// message.
fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow!("cannot write the report to stdout: {e}"))
        }
        _ => Ok(()),
    }
}

/// The error and its causes joined by ": ", leaving out a cause whose text the message
/// already holds (a decoder's error often repeats its own source's text). The library's
/// settings are named as the flags that set them (`--batch-size`).
fn describe(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = match cause.downcast_ref::<ToolkitError>() {
            Some(toolkit) => toolkit.with_flags(),
            None => cause.to_string(),
        };
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::describe;

    use std::fmt;

    /// An error whose message repeats its source's, as image decoders' errors do.
    #[derive(Debug)]
    struct Outer(Inner);

    #[derive(Debug)]
    struct Inner;

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "outer: {}", self.0)
        }
    }

    impl fmt::Display for Inner {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "inner detail")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    impl std::error::Error for Inner {}

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let error = anyhow::Error::new(Outer(Inner)).context("reading a.png");
        assert_eq!(describe(&error), "reading a.png: outer: inner detail");
        let plain = anyhow::anyhow!("no cause");
        assert_eq!(describe(&plain), "no cause");
    }

    #[test]
    fn library_settings_are_named_as_flags() {
        let error = anyhow::Error::new(ae_toolkit::ToolkitError::setting(
            "umap_neighbors",
            "must be at least 2",
        ));
        assert_eq!(describe(&error), "--umap-neighbors must be at least 2");
    }
}
