//! CSV tables of numeric columns, with an optional label column, and per-column
//! standardization.
//!
//! Tables are read with the [`csv`] crate: fields may be double-quoted (a quoted field may
//! hold the delimiter, a newline, or `""` for a literal quote), the delimiter is a comma
//! unless [`CsvOptions::delimiter`] says otherwise, cells are trimmed, and blank lines are
//! skipped. The first row is a header when it is not all numeric (or always, when a label
//! column is requested by name). Every error names the file, and the line and column at
//! fault.
//!
//! A trained run reads new tables by the names of the columns it was trained on
//! ([`CsvOptions::columns`]): the columns may come in another order, and a label column named
//! at reading time is set aside as labels rather than read as a feature.

use std::io::Read;
use std::path::Path;

use crate::dataset::{Dataset, ImageShape};
use crate::error::{DataError, Result};
use crate::values::Values;

/// How to read a CSV table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// The column holding labels, named in the header.
    pub label_column: Option<String>,
    /// With `label_column`: a table whose header lacks that column is read without labels
    /// instead of being refused (new data scored by a run trained with labels).
    pub label_optional: bool,
    /// The field delimiter (a comma by default).
    pub delimiter: u8,
    /// The feature columns to read, by header name and in this order (the columns a run was
    /// trained on); `None` reads every column but the label column. A table without a header
    /// must then have exactly these columns, in this order.
    pub columns: Option<Vec<String>>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            label_column: None,
            label_optional: false,
            delimiter: b',',
            columns: None,
        }
    }
}

impl CsvOptions {
    /// Options reading every feature column, with `label_column` as labels.
    pub fn with_label(label_column: Option<&str>) -> Self {
        Self {
            label_column: label_column.map(str::to_string),
            ..Self::default()
        }
    }
}

/// A parsed CSV table: the data set plus the names of its feature columns.
#[derive(Debug, Clone)]
pub struct CsvTable {
    /// The rows as a data set of shape 1 × 1 × number of feature columns.
    pub data: Dataset,
    /// Feature column names from the header, or `column N` (1-based) without one.
    pub columns: Vec<String>,
    /// Whether the table had a header naming its columns.
    pub has_header: bool,
}

/// Cells and names longer than this are cut when an error quotes them.
const QUOTED_CHARS: usize = 60;

/// `text` quoted for an error message, cut to its first [`QUOTED_CHARS`] characters (with the
/// full length said) when longer, so that a huge cell does not make a huge message.
pub(crate) fn quote(text: &str) -> String {
    let chars = text.chars().count();
    if chars <= QUOTED_CHARS {
        return format!("{text:?}");
    }
    let head: String = text.chars().take(QUOTED_CHARS).collect();
    format!("{head:?}… ({chars} characters)")
}

/// Quoted names, comma separated, each cut (see [`quote`]), at most 20 of them.
fn quote_list(names: &[String]) -> String {
    let mut listed: Vec<String> = names.iter().take(20).map(|n| quote(n)).collect();
    if names.len() > 20 {
        listed.push(format!("and {} more", names.len() - 20));
    }
    listed.join(", ")
}

/// Parses a numeric cell; `Err` says what is wrong with it.
fn parse_number(cell: &str) -> std::result::Result<f32, String> {
    if cell.is_empty() {
        return Err("empty cell".to_string());
    }
    match cell.parse::<f32>() {
        Ok(v) if v.is_nan() => Err(format!("{} is not a finite number (NaN)", quote(cell))),
        Ok(v) if v.is_infinite() => {
            Err(format!("{} is not a finite number (infinite)", quote(cell)))
        }
        Ok(v) => Ok(v),
        Err(_) => Err(format!("text {} is not a number", quote(cell))),
    }
}

/// Loads a CSV table of numeric columns; see [`read_csv`].
pub fn load_csv(path: &Path, label_column: Option<&str>) -> Result<Dataset> {
    Ok(read_csv(path, label_column)?.data)
}

/// Reads a CSV table of numeric columns, with the column names.
///
/// With `label_column`, the first row must be a header naming that column;
/// its cells become labels: the distinct label strings, sorted (numerically
/// when all are numbers), are the class names and labels are indices into
/// them. Every other cell must be a finite number. Errors name the file,
/// the line (1-based) and the column for text, empty, NaN and infinite
/// cells, for rows with the wrong number of cells, and for an empty file.
/// The result has shape 1 × 1 × number of feature columns and no value range.
pub fn read_csv(path: &Path, label_column: Option<&str>) -> Result<CsvTable> {
    read_csv_with(path, &CsvOptions::with_label(label_column))
}

/// Reads a CSV table as `options` say (see [`read_csv`]).
pub fn read_csv_with(path: &Path, options: &CsvOptions) -> Result<CsvTable> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_csv_with(&bytes, path, options)
}

/// Parses the bytes of a CSV table as [`read_csv`] does; errors name
/// `path` as the file the bytes came from.
pub fn parse_csv(bytes: &[u8], path: &Path, label_column: Option<&str>) -> Result<CsvTable> {
    parse_csv_with(bytes, path, &CsvOptions::with_label(label_column))
}

/// Parses the bytes of a CSV table as `options` say; errors name `path`.
pub fn parse_csv_with(bytes: &[u8], path: &Path, options: &CsvOptions) -> Result<CsvTable> {
    let fmt = |msg: String| DataError::format(path, msg);
    let mut scan = QuoteScan::new(options.delimiter);
    scan.feed(bytes);
    scan.finish().map_err(fmt)?;
    let mut records = Records::new(bytes, path, options.delimiter);
    let Some((first_line, first)) = records.next_record()? else {
        return Err(fmt("empty file: no rows".to_string()));
    };
    let layout = CsvLayout::from_first_row(first_line, first, options).map_err(fmt)?;
    let mut inputs = Vec::new();
    let mut raw_labels: Vec<String> = Vec::new();
    let mut count = 0usize;
    let mut add = |line: usize, cells: &[String]| -> Result<()> {
        if let Some(label) = layout.parse_row(line, cells, &mut inputs).map_err(fmt)? {
            raw_labels.push(label.to_string());
        }
        count += 1;
        Ok(())
    };
    if layout.first_row_is_data() {
        let (line, cells) = layout.first_row();
        add(line, cells)?;
    }
    while let Some((line, cells)) = records.next_record()? {
        add(line, &cells)?;
    }
    if count == 0 {
        return Err(fmt(format!(
            "no data rows (only the header on line {first_line})"
        )));
    }
    let (labels, class_names) = match layout.label_index {
        None => (None, Vec::new()),
        Some(_) => {
            let names = order_class_names(raw_labels.iter().map(String::as_str));
            let ids = raw_labels
                .iter()
                .map(|l| names.iter().position(|n| n == l).unwrap_or(0) as u32)
                .collect();
            (Some(ids), names)
        }
    };
    Ok(CsvTable {
        data: Dataset {
            shape: ImageShape::flat(layout.feature_cols.len()),
            inputs: Values::F32(inputs),
            targets: None,
            target_shape: None,
            labels,
            class_names,
            value_range: None,
        },
        columns: layout.column_names(),
        has_header: layout.header.is_some(),
    })
}

/// The records of a CSV source, with the line each starts on; blank lines are skipped and a
/// leading byte-order mark is dropped.
pub(crate) struct Records<R: Read> {
    reader: csv::Reader<R>,
    record: csv::StringRecord,
    path: std::path::PathBuf,
    first: bool,
}

impl<R: Read> Records<R> {
    /// The records of `source`, which is the file `path`.
    pub(crate) fn new(source: R, path: &Path, delimiter: u8) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .trim(csv::Trim::All)
            .from_reader(source);
        Self {
            reader,
            record: csv::StringRecord::new(),
            path: path.to_path_buf(),
            first: true,
        }
    }

    /// The next non-blank record and its line number; `Ok(None)` at the end.
    pub(crate) fn next_record(&mut self) -> Result<Option<(usize, Vec<String>)>> {
        loop {
            let more = self
                .reader
                .read_record(&mut self.record)
                .map_err(|e| csv_error(&self.path, e))?;
            if !more {
                return Ok(None);
            }
            let line = self.record.position().map_or(0, |p| p.line() as usize);
            let mut cells: Vec<String> = self.record.iter().map(str::to_string).collect();
            if std::mem::take(&mut self.first)
                && let Some(cell) = cells.first_mut()
                && let Some(rest) = cell.strip_prefix('\u{feff}')
            {
                *cell = rest.trim_start().to_string();
            }
            if cells.iter().all(String::is_empty) && cells.len() <= 1 {
                continue;
            }
            return Ok(Some((line, cells)));
        }
    }
}

/// A [`csv::Error`] as this crate's error, with the line where the reader stopped.
fn csv_error(path: &Path, error: csv::Error) -> DataError {
    let line = error.position().map(|p| p.line());
    match error.into_kind() {
        csv::ErrorKind::Io(e) => DataError::io(path, e),
        csv::ErrorKind::Utf8 { pos, .. } => {
            let line = pos.map(|p| p.line()).or(line).unwrap_or(0);
            DataError::format(path, format!("line {line}: not UTF-8 text"))
        }
        other => DataError::format(path, format!("{other:?}")),
    }
}

/// Finds a quoted field left open at the end of the input, which the [`csv`] reader would
/// silently run to the end of the file. Fed the bytes in order, in any chunks.
pub(crate) struct QuoteScan {
    delimiter: u8,
    line: usize,
    column: usize,
    field_start: bool,
    in_quotes: bool,
    quote_seen: bool,
    opened: (usize, usize),
}

impl QuoteScan {
    /// A scanner for fields separated by `delimiter`.
    pub(crate) fn new(delimiter: u8) -> Self {
        Self {
            delimiter,
            line: 1,
            column: 1,
            field_start: true,
            in_quotes: false,
            quote_seen: false,
            opened: (0, 0),
        }
    }

    /// Scans the next bytes.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.in_quotes {
                if self.quote_seen {
                    self.quote_seen = false;
                    if b == b'"' {
                        continue;
                    }
                    self.in_quotes = false;
                } else {
                    if b == b'"' {
                        self.quote_seen = true;
                    } else if b == b'\n' {
                        self.line += 1;
                    }
                    continue;
                }
            }
            if b == b'"' && self.field_start {
                self.in_quotes = true;
                self.opened = (self.line, self.column);
                self.field_start = false;
            } else if b == self.delimiter {
                self.field_start = true;
                self.column += 1;
            } else if b == b'\n' {
                self.line += 1;
                self.column = 1;
                self.field_start = true;
            } else if !matches!(b, b' ' | b'\t' | b'\r') {
                self.field_start = false;
            }
        }
    }

    /// `Err` names where an unterminated quoted field starts.
    pub(crate) fn finish(&self) -> std::result::Result<(), String> {
        if self.in_quotes && !self.quote_seen {
            let (line, column) = self.opened;
            return Err(format!(
                "line {line}, column {column}: unterminated quoted field"
            ));
        }
        Ok(())
    }
}

/// The distinct label strings of a table, sorted (numerically when all are
/// numbers): the class names, whose positions are the labels.
pub(crate) fn order_class_names<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<&str> = labels.collect();
    names.sort_unstable();
    names.dedup();
    let numeric: Option<Vec<f64>> = names.iter().map(|n| n.parse::<f64>().ok()).collect();
    if let Some(values) = numeric {
        let mut pairs: Vec<(f64, &str)> = values.into_iter().zip(names).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        names = pairs.into_iter().map(|(_, n)| n).collect();
    }
    names.into_iter().map(str::to_string).collect()
}

/// The column layout of a CSV table, read from its first row: whether that
/// row is a header, which column holds labels, which hold features.
#[derive(Debug, Clone)]
pub(crate) struct CsvLayout {
    /// The first row's line number (1-based).
    first_line: usize,
    /// The first row's cells.
    first: Vec<String>,
    /// The header's cells, when the first row is one.
    pub(crate) header: Option<Vec<String>>,
    /// Cells per row.
    ncols: usize,
    /// The label column's index, if any.
    pub(crate) label_index: Option<usize>,
    /// The feature columns' indices, in the order they are read.
    pub(crate) feature_cols: Vec<usize>,
}

impl CsvLayout {
    /// The layout given the first row (on line `first_line`); `Err` says what is wrong.
    pub(crate) fn from_first_row(
        first_line: usize,
        first: Vec<String>,
        options: &CsvOptions,
    ) -> std::result::Result<Self, String> {
        let label_column = options.label_column.as_deref();
        let numeric_row = first.iter().all(|c| parse_number(c).is_ok());
        let has_header = (label_column.is_some() && !options.label_optional) || !numeric_row;
        let ncols = first.len();
        let header = has_header.then(|| first.clone());
        let position = |name: &str| -> std::result::Result<Option<usize>, String> {
            let header = header.as_deref().unwrap_or_default();
            let matches: Vec<usize> = header
                .iter()
                .enumerate()
                .filter(|(_, h)| h.as_str() == name)
                .map(|(i, _)| i)
                .collect();
            match matches.as_slice() {
                [i] => Ok(Some(*i)),
                [] => Ok(None),
                _ => Err(format!(
                    "line {first_line}: the header has {} columns named {}",
                    matches.len(),
                    quote(name)
                )),
            }
        };
        let label_index = match label_column {
            None => None,
            Some(name) => match position(name)? {
                Some(i) => Some(i),
                None if options.label_optional => None,
                None => {
                    return Err(format!(
                        "line {first_line}: no label column named {} in the header (columns: {})",
                        quote(name),
                        quote_list(header.as_deref().unwrap_or_default())
                    ));
                }
            },
        };
        let feature_cols: Vec<usize> = match (&options.columns, &header) {
            (Some(wanted), Some(names)) => {
                let mut cols = Vec::with_capacity(wanted.len());
                for name in wanted {
                    match position(name)? {
                        Some(i) if Some(i) != label_index => cols.push(i),
                        _ => {
                            return Err(format!(
                                "line {first_line}: no column named {} in the header (the \
                                 run was trained on columns {}; this table has {})",
                                quote(name),
                                quote_list(wanted),
                                quote_list(names)
                            ));
                        }
                    }
                }
                if let Some(extra) =
                    (0..ncols).find(|c| !cols.contains(c) && Some(*c) != label_index)
                {
                    return Err(format!(
                        "line {first_line}: column {} ({}) is not one the run was trained on \
                         ({}); if it holds labels, name it as the label column",
                        extra + 1,
                        quote(&names[extra]),
                        quote_list(wanted)
                    ));
                }
                cols
            }
            (Some(wanted), None) => {
                if ncols != wanted.len() {
                    return Err(format!(
                        "line {first_line}: {ncols} columns and no header, but the run was \
                         trained on {} columns ({})",
                        wanted.len(),
                        quote_list(wanted)
                    ));
                }
                (0..ncols).collect()
            }
            (None, _) => (0..ncols).filter(|&c| Some(c) != label_index).collect(),
        };
        if feature_cols.is_empty() {
            return Err("no numeric feature columns".to_string());
        }
        Ok(Self {
            first_line,
            first,
            header,
            ncols,
            label_index,
            feature_cols,
        })
    }

    /// Whether the first row holds data (it is not a header).
    pub(crate) fn first_row_is_data(&self) -> bool {
        self.header.is_none()
    }

    /// The first row's line number and cells.
    pub(crate) fn first_row(&self) -> (usize, &[String]) {
        (self.first_line, &self.first)
    }

    /// Feature column names from the header, or `column N` (1-based) without one.
    pub(crate) fn column_names(&self) -> Vec<String> {
        self.feature_cols
            .iter()
            .map(|&c| match self.header.as_ref() {
                Some(h) => h[c].clone(),
                None => format!("column {}", c + 1),
            })
            .collect()
    }

    fn describe(&self, col: usize) -> String {
        match self.header.as_ref().and_then(|h| h.get(col)) {
            Some(name) => format!("column {} ({})", col + 1, quote(name)),
            None => format!("column {}", col + 1),
        }
    }

    /// Appends the features of the data row `cells` (on line `line`) to `inputs` and returns
    /// its label cell, if the table has labels; `Err` names the line and column at fault.
    pub(crate) fn parse_row<'c>(
        &self,
        line: usize,
        cells: &'c [String],
        inputs: &mut Vec<f32>,
    ) -> std::result::Result<Option<&'c str>, String> {
        if cells.len() != self.ncols {
            return Err(format!(
                "line {line}: {} cells, but line {} has {} (ragged row)",
                cells.len(),
                self.first_line,
                self.ncols
            ));
        }
        let start = inputs.len();
        for &c in &self.feature_cols {
            match parse_number(&cells[c]) {
                Ok(v) => inputs.push(v),
                Err(m) => {
                    inputs.truncate(start);
                    return Err(format!("line {line}, {}: {m}", self.describe(c)));
                }
            }
        }
        let Some(li) = self.label_index else {
            return Ok(None);
        };
        let label = cells[li].as_str();
        if label.is_empty() {
            inputs.truncate(start);
            return Err(format!(
                "line {line}, {}: empty label cell",
                self.describe(li)
            ));
        }
        Ok(Some(label))
    }
}

/// Per-column mean and standard deviation, to standardize features to mean
/// 0 and standard deviation 1 (and back).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Standardization {
    /// Mean of each column.
    pub mean: Vec<f32>,
    /// Population standard deviation of each column.
    pub std: Vec<f32>,
}

impl Standardization {
    /// Fits the mean and standard deviation of each input column of `data`.
    /// Fails on an empty data set or a constant column (naming it).
    pub fn fit(data: &Dataset) -> Result<Self> {
        Self::fit_with(data, None, false)
    }

    /// Like [`Standardization::fit`], naming columns by `column_names` in
    /// errors, and with `allow_constant` using a standard deviation of 1 for
    /// constant columns instead of failing.
    pub fn fit_with(
        data: &Dataset,
        column_names: Option<&[String]>,
        allow_constant: bool,
    ) -> Result<Self> {
        let d = data.dim();
        let n = data.len();
        if n == 0 || d == 0 {
            return Err(DataError::invalid(
                "cannot fit a standardization on an empty data set",
            ));
        }
        let values = data.inputs.to_f32();
        let mut sum = vec![0f64; d];
        for item in values.chunks_exact(d) {
            for (s, &v) in sum.iter_mut().zip(item) {
                *s += f64::from(v);
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
        let mut sq = vec![0f64; d];
        for item in values.chunks_exact(d) {
            for ((s, &v), m) in sq.iter_mut().zip(item).zip(&mean) {
                let dv = f64::from(v) - m;
                *s += dv * dv;
            }
        }
        let mut std = Vec::with_capacity(d);
        for (c, (s, m)) in sq.iter().zip(&mean).enumerate() {
            let sd = (s / n as f64).sqrt();
            if sd <= m.abs() * 1e-6 || sd < f64::from(f32::MIN_POSITIVE) {
                if allow_constant {
                    std.push(1.0);
                    continue;
                }
                let name = match column_names.and_then(|names| names.get(c)) {
                    Some(name) => format!("column {} ({})", c + 1, quote(name)),
                    None => format!("column {}", c + 1),
                };
                return Err(DataError::invalid(format!(
                    "{name} is constant (every value is {m}); it cannot be standardized"
                )));
            }
            std.push(sd as f32);
        }
        Ok(Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        })
    }

    /// Checks that `data` has as many columns as this standardization.
    pub fn check(&self, data: &Dataset) -> Result<()> {
        if data.dim() != self.mean.len() || self.std.len() != self.mean.len() {
            return Err(DataError::invalid(format!(
                "standardization has {} columns but the data has {}",
                self.mean.len(),
                data.dim()
            )));
        }
        Ok(())
    }

    /// Standardizes the inputs of `data` in place: `(x - mean) / std`; the
    /// value range becomes `None`.
    ///
    /// # Panics
    /// When the column counts differ; call [`Standardization::check`] first
    /// for data that may not match.
    pub fn apply(&self, data: &mut Dataset) {
        assert!(
            self.check(data).is_ok(),
            "standardization has {} columns but the data has {}",
            self.mean.len(),
            data.dim()
        );
        for item in data.inputs.make_f32().chunks_exact_mut(self.mean.len()) {
            for ((x, m), s) in item.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
        data.value_range = None;
    }

    /// Maps standardized values back: `x * std + mean`. `values` holds whole
    /// items (column `i % columns` for the `i`-th value).
    pub fn invert(&self, values: &mut [f32]) {
        if self.mean.is_empty() {
            return;
        }
        for item in values.chunks_mut(self.mean.len()) {
            for ((x, m), s) in item.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = *x * s + m;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn err(path: &Path, label: Option<&str>) -> String {
        load_csv(path, label).unwrap_err().to_string()
    }

    #[test]
    fn parses_header_rows_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "iris.csv",
            "a,\"b,x\",species\r\n1,2,setosa\n\n3.5,-4e1,\"virginica\"\n5,6,setosa\n",
        );
        let t = read_csv(&p, Some("species")).unwrap();
        assert_eq!(t.columns, vec!["a", "b,x"]);
        let d = t.data;
        assert_eq!(d.shape, ImageShape::new(1, 1, 2));
        assert_eq!(d.inputs, vec![1.0, 2.0, 3.5, -40.0, 5.0, 6.0]);
        assert_eq!(d.class_names, vec!["setosa", "virginica"]);
        assert_eq!(d.labels, Some(vec![0, 1, 0]));
        assert_eq!(d.value_range, None);
        d.check().unwrap();
    }

    #[test]
    fn header_is_optional_and_numeric_labels_sort_numerically() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "plain.csv", "1,2\n3,4\n");
        let d = load_csv(&p, None).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.inputs, vec![1.0, 2.0, 3.0, 4.0]);
        let p = write(&dir, "num.csv", "x,y\n1,10\n2,2\n3,1\n");
        let d = load_csv(&p, Some("y")).unwrap();
        assert_eq!(d.class_names, vec!["1", "2", "10"]);
        assert_eq!(d.labels, Some(vec![2, 1, 0]));
    }

    #[test]
    fn text_cell_names_row_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "t.csv", "a,b\n1,2\n3,oops\n");
        let msg = err(&p, None);
        assert!(msg.contains("t.csv"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("column 2 (\"b\")"), "{msg}");
        assert!(msg.contains("oops"), "{msg}");
    }

    #[test]
    fn empty_nan_inf_cells_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "e.csv", "a,b\n1,\n");
        let msg = err(&p, None);
        assert!(msg.contains("e.csv: line 2, column 2"), "{msg}");
        assert!(msg.contains("empty cell"), "{msg}");
        let p = write(&dir, "n.csv", "1,2\nNaN,3\n");
        let msg = err(&p, None);
        assert!(msg.contains("line 2, column 1"), "{msg}");
        assert!(msg.contains("NaN"), "{msg}");
        let p = write(&dir, "i.csv", "1,2\n3,-inf\n");
        let msg = err(&p, None);
        assert!(msg.contains("line 2, column 2"), "{msg}");
        assert!(msg.contains("infinite"), "{msg}");
        let p = write(&dir, "l.csv", "a,label\n1,\n");
        let msg = err(&p, Some("label"));
        assert!(msg.contains("empty label"), "{msg}");
    }

    #[test]
    fn ragged_empty_and_missing_label_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "r.csv", "1,2,3\n4,5\n");
        let msg = err(&p, None);
        assert!(msg.contains("r.csv: line 2"), "{msg}");
        assert!(msg.contains("2 cells"), "{msg}");
        let p = write(&dir, "empty.csv", "\n  \n");
        let msg = err(&p, None);
        assert!(msg.contains("empty.csv"), "{msg}");
        assert!(msg.contains("empty file"), "{msg}");
        let p = write(&dir, "h.csv", "a,b\n");
        assert!(err(&p, None).contains("no data rows"));
        let p = write(&dir, "m.csv", "a,b\n1,2\n");
        let msg = err(&p, Some("class"));
        assert!(msg.contains("no label column named \"class\""), "{msg}");
        let p = write(&dir, "q.csv", "a,b\n1,\"2\n");
        assert!(err(&p, None).contains("unterminated"));
    }

    #[test]
    fn a_huge_cell_is_quoted_cut() {
        let dir = tempfile::tempdir().unwrap();
        let huge = "x".repeat(5_000_000);
        let p = write(&dir, "huge.csv", &format!("a,b\n1,{huge}\n"));
        let msg = err(&p, None);
        assert!(msg.len() < 300, "{} bytes: {}", msg.len(), &msg[..300]);
        assert!(
            msg.contains("line 2, column 2") && msg.contains("(5000000 characters)"),
            "{msg}"
        );
        assert_eq!(quote("short"), "\"short\"");
    }

    #[test]
    fn quoted_fields_may_hold_delimiters_quotes_and_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "q.csv",
            "x;\"kind; of\"\n1;\"a \"\"big\"\" one\"\n2;\"two\nlines\"\n3;plain\n4;oops;\n",
        );
        let options = CsvOptions {
            label_column: Some("kind; of".into()),
            delimiter: b';',
            ..CsvOptions::default()
        };
        let msg = read_csv_with(&p, &options).unwrap_err().to_string();
        // The record after the two-line field starts on line 5.
        assert!(msg.contains("line 6") && msg.contains("ragged"), "{msg}");
        std::fs::write(
            &p,
            "x;\"kind; of\"\n1;\"a \"\"big\"\" one\"\n2;\"two\nlines\"\n3;plain\n",
        )
        .unwrap();
        let t = read_csv_with(&p, &options).unwrap();
        assert_eq!(t.columns, ["x"]);
        assert_eq!(t.data.class_names, ["a \"big\" one", "plain", "two\nlines"]);
        assert_eq!(t.data.labels, Some(vec![0, 2, 1]));
        let p = write(&dir, "open.csv", "a,b\n1,2\n3,\"4\n5,6\n");
        let msg = err(&p, None);
        assert!(
            msg.contains("line 3, column 2") && msg.contains("unterminated"),
            "{msg}"
        );
    }

    #[test]
    fn a_run_reads_its_columns_by_name_and_sets_a_label_column_aside() {
        let dir = tempfile::tempdir().unwrap();
        let trained = vec!["a".to_string(), "b".to_string()];
        let by_name = |label: Option<&str>, optional: bool| CsvOptions {
            label_column: label.map(str::to_string),
            label_optional: optional,
            columns: Some(trained.clone()),
            ..CsvOptions::default()
        };
        // Reordered, with a label column.
        let p = write(&dir, "new.csv", "b,y,a\n2,yes,1\n4,no,3\n");
        let t = read_csv_with(&p, &by_name(Some("y"), false)).unwrap();
        assert_eq!(t.columns, trained);
        assert_eq!(t.data.inputs, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(t.data.class_names, ["no", "yes"]);
        assert_eq!(t.data.labels, Some(vec![1, 0]));
        // The label column left out: an extra column the run never saw.
        let msg = read_csv_with(&p, &by_name(None, false))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("new.csv") && msg.contains("column 2 (\"y\")") && msg.contains("label"),
            "{msg}"
        );
        // A missing feature column is named.
        let p = write(&dir, "short.csv", "a,y\n1,yes\n");
        let msg = read_csv_with(&p, &by_name(Some("y"), false))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no column named \"b\""), "{msg}");
        // An optional label column may be absent; without a header the order is the run's.
        let p = write(&dir, "plain.csv", "1,2\n3,4\n");
        let t = read_csv_with(&p, &by_name(Some("y"), true)).unwrap();
        assert_eq!(t.data.labels, None);
        assert_eq!(t.data.inputs, vec![1.0, 2.0, 3.0, 4.0]);
        let p = write(&dir, "wide.csv", "1,2,3\n");
        let msg = read_csv_with(&p, &by_name(None, false))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("3 columns and no header"), "{msg}");
    }

    #[test]
    fn standardization_fit_apply_invert() {
        let mut d = Dataset::from_inputs(
            ImageShape::flat(2),
            vec![1.0, 100.0, 2.0, 300.0, 3.0, 200.0, 6.0, 400.0],
            None,
        )
        .unwrap();
        let original = d.inputs.to_f32().into_owned();
        let s = Standardization::fit(&d).unwrap();
        s.apply(&mut d);
        for c in 0..2 {
            let col: Vec<f64> = (0..d.len()).map(|i| f64::from(d.input(i)[c])).collect();
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / col.len() as f64;
            assert!(mean.abs() < 1e-6, "{mean}");
            assert!((var.sqrt() - 1.0).abs() < 1e-5, "{var}");
        }
        let mut back = d.inputs.to_f32().into_owned();
        s.invert(&mut back);
        for (a, b) in back.iter().zip(&original) {
            assert!((a - b).abs() < 1e-3, "{a} {b}");
        }
        let json = serde_json::to_string(&s).unwrap();
        let s2: Standardization = serde_json::from_str(&json).unwrap();
        assert_eq!(s, s2);
    }

    #[test]
    fn constant_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "c.csv", "x,flat\n1,5\n2,5\n3,5\n");
        let t = read_csv(&p, None).unwrap();
        let msg = Standardization::fit(&t.data).unwrap_err().to_string();
        assert!(msg.contains("column 2"), "{msg}");
        assert!(msg.contains("constant"), "{msg}");
        let msg = Standardization::fit_with(&t.data, Some(&t.columns), false)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("\"flat\""), "{msg}");
        let s = Standardization::fit_with(&t.data, None, true).unwrap();
        assert_eq!(s.std[1], 1.0);
        assert_eq!(s.mean[1], 5.0);
        let wrong = Dataset::from_inputs(ImageShape::flat(3), vec![0.0; 3], None).unwrap();
        assert!(s.check(&wrong).is_err());
    }
}
