//! A burn-train metric logger that writes one CSV row per epoch and split: `metrics.csv`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

use crate::progress::Reporter;

/// Keeps the running epoch means of every numeric metric and appends them to a CSV file.
pub struct CsvMetricLogger {
    path: PathBuf,
    reporter: Reporter,
    names: BTreeMap<String, String>,
    columns: Vec<String>,
    sums: BTreeMap<String, (f64, usize)>,
}

impl CsvMetricLogger {
    /// A logger appending to `path`; an existing file (a resumed run) keeps its rows. A row
    /// that cannot be written is told to `reporter`.
    pub fn new(path: PathBuf, reporter: Reporter) -> Self {
        Self {
            path,
            reporter,
            names: BTreeMap::new(),
            columns: Vec::new(),
            sums: BTreeMap::new(),
        }
    }

    fn id_key(id: &MetricId) -> String {
        format!("{id:?}")
    }

    fn write_row(&mut self, epoch: usize, split: &Split) -> std::io::Result<()> {
        if self.columns.is_empty() {
            self.columns = self.names.values().cloned().collect();
            self.columns.sort();
        }
        // The whole file is written again (it is small) so that a crash never leaves a
        // half-written row.
        let mut text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        if text.is_empty() {
            writeln!(text, "epoch,split,{}", self.columns.join(","))
                .map_err(std::io::Error::other)?;
        } else if !text.ends_with('\n') {
            text.push('\n');
        }
        let values: Vec<String> = self
            .columns
            .iter()
            .map(|name| match self.sums.get(name) {
                Some((sum, count)) if *count > 0 => format!("{}", sum / *count as f64),
                _ => String::new(),
            })
            .collect();
        writeln!(text, "{epoch},{split},{}", values.join(",")).map_err(std::io::Error::other)?;
        self.sums.clear();
        ae_io::write_atomic(&self.path, text.as_bytes()).map_err(|e| e.source)
    }
}

impl MetricLogger for CsvMetricLogger {
    fn log(&mut self, update: MetricsUpdate, _epoch: usize, _split: &Split) {
        for numeric in update.entries_numeric {
            let key = Self::id_key(&numeric.entry.metric_id);
            let Some(name) = self.names.get(&key).cloned() else {
                continue;
            };
            let (value, count) = match numeric.running_entry {
                NumericEntry::Value(v) => (v, 1),
                NumericEntry::Aggregated {
                    aggregated_value,
                    count,
                } => (aggregated_value, count),
            };
            // The running entry is the metric's own epoch mean so far: keep the latest.
            self.sums.insert(name, (value * count as f64, count));
        }
    }

    fn read_numeric(
        &mut self,
        name: &str,
        _epoch: usize,
        _split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        Err(format!("the CSV logger does not read back '{name}'"))
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(Self::id_key(&definition.metric_id), definition.name);
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        if let Err(e) = self.write_row(summary.epoch_number, &summary.split) {
            self.reporter.notice(format!(
                "warning: cannot write {}: {e}",
                self.path.display()
            ));
        }
    }
}
