//! NumPy `.npy` files: version 1.0 writing (atomic) and reading for round trips.

use std::fs;
use std::path::Path;

use crate::error::{AnalysisError, Result};
use ae_io::{AtomicFile, write_atomic};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Preamble: magic, two version bytes and the `u16` header length.
const PREAMBLE_V1: usize = MAGIC.len() + 2 + 2;
const ALIGNMENT: usize = 64;

/// An array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray<T> {
    /// Shape in C (row-major) order; empty for a scalar.
    pub shape: Vec<usize>,
    /// Values in row-major order.
    pub data: Vec<T>,
}

/// A `float32` array read by [`read_npy_f32`].
pub type NpyF32 = NpyArray<f32>;

fn io_error(path: &Path, source: std::io::Error) -> AnalysisError {
    AnalysisError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn npy_error(path: &Path, reason: impl Into<String>) -> AnalysisError {
    AnalysisError::Npy {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Version 1.0 header: preamble plus the dict, space padded and newline
/// terminated so that the total length is a multiple of 64 bytes.
fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [single] => format!("({single},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    let unpadded = PREAMBLE_V1 + dict.len() + 1;
    let padding = (ALIGNMENT - unpadded % ALIGNMENT) % ALIGNMENT;
    dict.extend(std::iter::repeat_n(' ', padding));
    dict.push('\n');
    let mut out = Vec::with_capacity(PREAMBLE_V1 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // Shapes are tiny, so the header always fits the v1.0 u16 length.
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes a `rows x cols` row-major `float32` array as a `.npy` (v1.0) file.
pub fn write_npy_f32(path: impl AsRef<Path>, rows: usize, cols: usize, data: &[f32]) -> Result<()> {
    let path = path.as_ref();
    let expected = rows
        .checked_mul(cols)
        .ok_or_else(|| AnalysisError::InvalidParameter {
            name: "npy shape",
            reason: format!("{rows}x{cols} overflows usize"),
        })?;
    if data.len() != expected {
        return Err(AnalysisError::ShapeMismatch {
            what: "npy array",
            shape: format!("{rows}x{cols}"),
            expected,
            got: data.len(),
        });
    }
    let mut bytes = header("<f4", &[rows, cols]);
    bytes.reserve(data.len() * 4);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    Ok(write_atomic(path, &bytes)?)
}

/// A `rows x cols` `float32` `.npy` file written a row at a time, so that an array larger
/// than memory can be written; the file appears under its name (by rename) only when
/// [`NpyRowWriter::finish`] has checked that every row was written.
pub struct NpyRowWriter {
    file: AtomicFile,
    rows: usize,
    cols: usize,
    written: usize,
}

impl NpyRowWriter {
    /// Starts writing a `rows x cols` array to `path`.
    pub fn create(path: impl AsRef<Path>, rows: usize, cols: usize) -> Result<Self> {
        let mut file = AtomicFile::create(path)?;
        file.write_bytes(&header("<f4", &[rows, cols]))?;
        Ok(Self {
            file,
            rows,
            cols,
            written: 0,
        })
    }

    /// Appends rows given row-major in `values` (a multiple of `cols` values).
    pub fn write_rows(&mut self, values: &[f32]) -> Result<()> {
        if !values.len().is_multiple_of(self.cols.max(1)) {
            return Err(AnalysisError::ShapeMismatch {
                what: "npy rows",
                shape: format!("rows of {}", self.cols),
                expected: self.cols,
                got: values.len() % self.cols.max(1),
            });
        }
        let rows = values.len() / self.cols.max(1);
        if self.written + rows > self.rows {
            return Err(npy_error(
                self.file.path(),
                format!("more than the declared {} rows", self.rows),
            ));
        }
        let mut bytes = Vec::with_capacity(values.len() * 4);
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.file.write_bytes(&bytes)?;
        self.written += rows;
        Ok(())
    }

    /// Checks the row count, syncs the file and moves it to its name.
    pub fn finish(self) -> Result<()> {
        if self.written != self.rows {
            return Err(npy_error(
                self.file.path(),
                format!(
                    "{} rows written of the declared {}",
                    self.written, self.rows
                ),
            ));
        }
        self.file.commit()?;
        Ok(())
    }
}

/// Writes a 1-D `float64` array (e.g. anomaly scores) as a `.npy` (v1.0) file.
pub fn write_npy_f64(path: impl AsRef<Path>, data: &[f64]) -> Result<()> {
    let mut bytes = header("<f8", &[data.len()]);
    bytes.reserve(data.len() * 8);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    Ok(write_atomic(path.as_ref(), &bytes)?)
}

/// Writes a 1-D `int64` array (e.g. labels) as a `.npy` (v1.0) file.
pub fn write_npy_i64(path: impl AsRef<Path>, data: &[i64]) -> Result<()> {
    let mut bytes = header("<i8", &[data.len()]);
    bytes.reserve(data.len() * 8);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    Ok(write_atomic(path.as_ref(), &bytes)?)
}

/// Value of `key` in the header dict, as raw text up to the next top-level comma.
fn dict_value<'a>(dict: &'a str, key: &str) -> Option<&'a str> {
    let start = dict.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = dict[start..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(rest[..end].trim())
}

/// Parses the file's header; returns the shape and the data bytes.
fn parse<'a>(path: &Path, bytes: &'a [u8], descr: &str) -> Result<(Vec<usize>, &'a [u8])> {
    if bytes.len() < PREAMBLE_V1 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(npy_error(path, "bad magic (not a .npy file)"));
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => {
            return Err(npy_error(
                path,
                format!("unsupported format version {major}"),
            ));
        }
    };
    let data_start = header_start + header_len;
    if bytes.len() < data_start {
        return Err(npy_error(path, "truncated header"));
    }
    let dict = std::str::from_utf8(&bytes[header_start..data_start])
        .map_err(|_| npy_error(path, "header is not valid text"))?;
    let found = dict_value(dict, "descr").ok_or_else(|| npy_error(path, "header lacks 'descr'"))?;
    let found = found.trim_matches(['\'', '"']);
    if found != descr {
        return Err(npy_error(
            path,
            format!("dtype {found} is not the expected {descr}"),
        ));
    }
    match dict_value(dict, "fortran_order") {
        Some("False") => {}
        Some("True") => return Err(npy_error(path, "Fortran-ordered arrays are not supported")),
        _ => return Err(npy_error(path, "header lacks a valid 'fortran_order'")),
    }
    let shape_text =
        dict_value(dict, "shape").ok_or_else(|| npy_error(path, "header lacks 'shape'"))?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| npy_error(path, format!("malformed shape {shape_text}")))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| npy_error(path, format!("malformed shape {shape_text}")))?;
    Ok((shape, &bytes[data_start..]))
}

fn read_typed<T, const N: usize>(
    path: &Path,
    descr: &str,
    decode: impl Fn([u8; N]) -> T,
) -> Result<NpyArray<T>> {
    let bytes = fs::read(path).map_err(|e| io_error(path, e))?;
    let (shape, payload) = parse(path, &bytes, descr)?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| npy_error(path, "shape overflows usize"))?;
    let needed = count
        .checked_mul(N)
        .ok_or_else(|| npy_error(path, "shape overflows usize"))?;
    if payload.len() != needed {
        return Err(npy_error(
            path,
            format!(
                "shape {shape:?} needs {needed} data bytes but the file has {} (truncated or corrupt)",
                payload.len()
            ),
        ));
    }
    let data = payload
        .chunks_exact(N)
        .map(|c| {
            let mut raw = [0u8; N];
            raw.copy_from_slice(c);
            decode(raw)
        })
        .collect();
    Ok(NpyArray { shape, data })
}

/// Reads a little-endian `float32`, C-ordered `.npy` file.
pub fn read_npy_f32(path: impl AsRef<Path>) -> Result<NpyF32> {
    read_typed(path.as_ref(), "<f4", f32::from_le_bytes)
}

/// Reads a little-endian `int64`, C-ordered `.npy` file.
pub fn read_npy_i64(path: impl AsRef<Path>) -> Result<NpyArray<i64>> {
    read_typed(path.as_ref(), "<i8", i64::from_le_bytes)
}
