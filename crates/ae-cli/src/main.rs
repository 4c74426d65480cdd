//! `ae`: train, evaluate, reconstruct with and sample from autoencoders.

mod anomaly;
mod commands;
mod dec;
mod demo;
mod denoise;
mod explain;
mod flags;
mod generate;
mod reduce;
mod shared;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = flags::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by ": ", leaving out a cause whose text the message
/// already holds (a decoder's error often repeats its own source's text).
fn describe(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
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
}
