//! The CSV reader on arbitrary bytes, with and without a label column: it must return a
//! table or an error, never panic; a table's values are finite and its labels index its
//! class names; fitting a standardization on it never panics.
#![no_main]

use std::path::Path;

use ae_data::table::{Standardization, parse_csv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    for label in [None, Some("label")] {
        let Ok(table) = parse_csv(bytes, Path::new("fuzz.csv"), label) else {
            continue;
        };
        let data = &table.data;
        assert!(!data.is_empty());
        assert_eq!(data.inputs.len(), data.len() * data.dim());
        assert_eq!(table.columns.len(), data.dim());
        assert!(data.inputs.iter().all(|v| v.is_finite()));
        if let Some(labels) = &data.labels {
            assert_eq!(labels.len(), data.len());
            assert!(
                labels
                    .iter()
                    .all(|&l| (l as usize) < data.class_names.len())
            );
        }
        if let Ok(stats) = Standardization::fit_with(data, Some(&table.columns), true) {
            assert!(stats.std.iter().all(|s| s.is_finite() && *s > 0.0));
        }
    }
});
