//! A burn-train metric logger that writes one CSV row per epoch and split (`metrics.csv`) and
//! answers burn-train's questions about past epochs (the best checkpoint, early stopping) from
//! those rows: no other metric log is written.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use burn::train::Interrupter;
use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

use crate::atomic_recorder::WriteFailures;

/// Keeps the running epoch means of every numeric metric, writes them to a CSV file, and
/// remembers every epoch's means.
pub struct CsvMetricLogger {
    path: PathBuf,
    failures: WriteFailures,
    interrupter: Interrupter,
    names: BTreeMap<String, String>,
    columns: Vec<String>,
    sums: BTreeMap<String, (f64, usize)>,
    /// Epoch means by (epoch, split, metric name), read back from the file on a resume.
    history: BTreeMap<(usize, String, String), f64>,
}

/// The epoch means in the text of a `metrics.csv`, by (epoch, split, metric name).
fn parse_history(text: &str) -> BTreeMap<(usize, String, String), f64> {
    let mut history = BTreeMap::new();
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return history;
    };
    let columns: Vec<&str> = header.split(',').skip(2).collect();
    for line in lines {
        let mut cells = line.split(',');
        let (Some(epoch), Some(split)) = (cells.next(), cells.next()) else {
            continue;
        };
        let Ok(epoch) = epoch.parse::<usize>() else {
            continue;
        };
        for (name, cell) in columns.iter().zip(cells) {
            if let Ok(value) = cell.parse::<f64>() {
                history.insert((epoch, split.to_string(), name.to_string()), value);
            }
        }
    }
    history
}

impl CsvMetricLogger {
    /// A logger writing `path`; an existing file (a resumed run) keeps its rows, which answer
    /// questions about earlier epochs. A row that cannot be written is recorded in `failures`
    /// and stops the run through `interrupter`.
    pub fn new(path: PathBuf, failures: WriteFailures, interrupter: Interrupter) -> Self {
        let history = std::fs::read_to_string(&path)
            .map(|text| parse_history(&text))
            .unwrap_or_default();
        Self {
            path,
            failures,
            interrupter,
            names: BTreeMap::new(),
            columns: Vec::new(),
            sums: BTreeMap::new(),
            history,
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
        let mut values = Vec::with_capacity(self.columns.len());
        for name in &self.columns {
            match self.sums.get(name) {
                Some((sum, count)) if *count > 0 => {
                    let mean = sum / *count as f64;
                    self.history
                        .insert((epoch, split.to_string(), name.clone()), mean);
                    values.push(format!("{mean}"));
                }
                _ => values.push(String::new()),
            }
        }
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
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        // An epoch not logged (yet) has no points: burn-train reads "no value".
        Ok(self
            .history
            .get(&(epoch, split.to_string(), name.to_string()))
            .map(|&mean| vec![NumericEntry::Value(mean)])
            .unwrap_or_default())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(Self::id_key(&definition.metric_id), definition.name);
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        if let Err(e) = self.write_row(summary.epoch_number, &summary.split) {
            let message = format!("cannot write {}: {e}", self.path.display());
            self.failures.record(&message);
            self.interrupter.stop(Some(&message));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_epochs_are_read_back_from_the_file() {
        let history =
            parse_history("epoch,split,KL,Loss\n1,train,3,100.5\n1,valid,2.5,90\n2,train,,80\n");
        assert_eq!(history[&(1, "valid".into(), "Loss".into())], 90.0);
        assert_eq!(history[&(2, "train".into(), "Loss".into())], 80.0);
        assert!(!history.contains_key(&(2, "train".into(), "KL".into())));
        assert_eq!(history.len(), 5);
    }
}
