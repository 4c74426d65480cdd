//! Experiment-config parsing on arbitrary text: it must accept or reject with an error,
//! never panic, and an accepted config must survive a round trip through its TOML text.
#![no_main]

use std::path::Path;

use ae_train::ExperimentConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let path = Path::new("fuzz.toml");
    let Ok(config) = ExperimentConfig::from_toml(text, path) else {
        return;
    };
    let written = config.to_toml().expect("an accepted config serializes");
    let again = ExperimentConfig::from_toml(&written, path)
        .unwrap_or_else(|e| panic!("the written config is rejected: {e}\n{written}"));
    assert_eq!(again.to_toml().expect("serializes"), written);
});
