//! Reader and writer for the IDX format (used by MNIST), optionally gzipped.
//!
//! An IDX file is a big-endian header — two zero bytes, a data-type byte and
//! a dimension count, then one `u32` per dimension — followed by the data.
//! Only unsigned bytes (type `0x08`) are supported. Gzip compression is
//! detected from the `0x1f 0x8b` magic bytes, not from the file name.

use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::error::{DataError, Result};

/// The IDX type code of unsigned bytes, the only one supported.
pub const IDX_TYPE_U8: u8 = 0x08;

/// An n-dimensional array of bytes read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Size of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// The values in row-major order; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

/// The decompressed size of a gzip stream as its trailer states it (ISIZE, the size modulo
/// 2³²), capped at what deflate can expand `raw` to, so a false trailer cannot ask for more:
/// with the exact capacity, decompression never doubles its buffer.
fn gzip_size_hint(raw: &[u8]) -> usize {
    const DEFLATE_MAX_RATIO: usize = 1032;
    let stated = match raw.len().checked_sub(4) {
        Some(start) => {
            u32::from_le_bytes([raw[start], raw[start + 1], raw[start + 2], raw[start + 3]])
                as usize
        }
        None => 0,
    };
    stated.min(raw.len().saturating_mul(DEFLATE_MAX_RATIO))
}

/// Returns true when `bytes` start with the gzip magic number.
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

fn type_name(code: u8) -> Option<&'static str> {
    match code {
        0x08 => Some("unsigned byte"),
        0x09 => Some("signed byte"),
        0x0B => Some("16-bit integer"),
        0x0C => Some("32-bit integer"),
        0x0D => Some("32-bit float"),
        0x0E => Some("64-bit float"),
        _ => None,
    }
}

/// Reads an IDX file of unsigned bytes, gzipped or not.
///
/// Rejects a wrong magic number, an unsupported data type, data shorter or
/// longer than the header declares and a corrupt gzip stream; every error
/// names the file.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_owned(raw, path)
}

/// Decodes the bytes of an IDX file, gzipped or not, as [`read_idx`] does;
/// errors name `source` as the file the bytes came from.
pub fn decode_idx(raw: &[u8], source: &Path) -> Result<IdxArray> {
    decode_owned(raw.to_vec(), source)
}

/// [`decode_idx`] on bytes it may reuse: the data is cut out of the (decompressed) buffer in
/// place, so a file is held at most twice (compressed and decompressed), never three times.
fn decode_owned(raw: Vec<u8>, source: &Path) -> Result<IdxArray> {
    let bytes = if is_gzip(&raw) {
        inflate_declared(&raw).map_err(|message| DataError::format(source, message))?
    } else {
        raw
    };
    parse_idx(bytes).map_err(|message| DataError::format(source, message))
}

/// Unexpected bytes after the declared data that a gzipped file may have and still be
/// inflated to count them exactly; past this, inflating stops.
const TRAILING_LIMIT: usize = 1 << 20;

/// Inflates a gzipped IDX file as far as its header allows: the header first, then at most
/// the data it declares (plus [`TRAILING_LIMIT`] bytes to count what follows), so a small
/// file that inflates to gigabytes is refused after a few bytes of work, never allocated.
fn inflate_declared(raw: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let corrupt = |e: std::io::Error| format!("corrupt gzip stream: {e}");
    let mut decoder = GzDecoder::new(raw);
    let mut bytes = Vec::new();
    (&mut decoder)
        .take(4)
        .read_to_end(&mut bytes)
        .map_err(corrupt)?;
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != IDX_TYPE_U8 {
        // Not an IDX header of bytes: `parse_idx` says what is wrong with it.
        (&mut decoder)
            .take(4 * 255)
            .read_to_end(&mut bytes)
            .map_err(corrupt)?;
        return Ok(bytes);
    }
    let header_len = 4 + 4 * usize::from(bytes[3]);
    (&mut decoder)
        .take((header_len - 4) as u64)
        .read_to_end(&mut bytes)
        .map_err(corrupt)?;
    if bytes.len() < header_len || bytes[3] == 0 {
        return Ok(bytes);
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("dimensions {dims:?} are too large"))?;
    // Deflate expands at most 1032 times: a stream this short cannot hold the declared data.
    if expected > raw.len().saturating_mul(1032) {
        return Err(format!(
            "truncated data: header declares dimensions {dims:?} ({expected} bytes) but a \
             gzip stream of {} bytes cannot hold that many",
            raw.len()
        ));
    }
    bytes.reserve_exact(expected.min(gzip_size_hint(raw)));
    let limit = expected.saturating_add(TRAILING_LIMIT) as u64;
    (&mut decoder)
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(corrupt)?;
    let present = bytes.len() - header_len;
    if present > expected && present - expected >= TRAILING_LIMIT {
        let mut probe = [0u8; 1];
        if decoder.read(&mut probe).map_err(corrupt)? > 0 {
            return Err(format!(
                "trailing data: more than {TRAILING_LIMIT} unexpected bytes after the \
                 {expected} bytes declared by dimensions {dims:?}"
            ));
        }
    }
    Ok(bytes)
}

/// Parses the bytes of an (uncompressed) IDX file.
fn parse_idx(mut bytes: Vec<u8>) -> std::result::Result<IdxArray, String> {
    if bytes.len() < 4 {
        return Err(format!(
            "not an IDX file: {} bytes, too short for the 4-byte magic number",
            bytes.len()
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!(
            "not an IDX file: magic number 0x{magic:08x} does not start with two zero bytes"
        ));
    }
    let type_code = bytes[2];
    if type_code != IDX_TYPE_U8 {
        return Err(match type_name(type_code) {
            Some(name) => format!(
                "unsupported IDX data type 0x{type_code:02x} ({name}); only unsigned bytes (0x08) are supported"
            ),
            None => format!(
                "not an IDX file: magic number 0x{magic:08x} has unknown data type 0x{type_code:02x}"
            ),
        });
    }
    let ndims = usize::from(bytes[3]);
    if ndims == 0 {
        return Err("IDX header declares zero dimensions".to_string());
    }
    let header_len = 4 + 4 * ndims;
    if bytes.len() < header_len {
        return Err(format!(
            "truncated header: {ndims} dimensions need {header_len} header bytes but the file has {}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("dimensions {dims:?} are too large"))?;
    let present = bytes.len() - header_len;
    if present < expected {
        return Err(format!(
            "truncated data: header declares dimensions {dims:?} ({expected} bytes) but only {present} bytes follow"
        ));
    }
    if present > expected {
        return Err(format!(
            "trailing data: {} unexpected bytes after the {expected} bytes declared by dimensions {dims:?}",
            present - expected
        ));
    }
    bytes.drain(..header_len);
    bytes.shrink_to_fit();
    Ok(IdxArray { dims, data: bytes })
}

/// Writes `data` with dimensions `dims` as an unsigned-byte IDX file,
/// gzip-compressed when `gzip` is true.
///
/// Fails when the product of `dims` differs from `data.len()`, when there
/// are no or more than 255 dimensions, or a dimension exceeds `u32::MAX`.
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8], gzip: bool) -> Result<()> {
    if dims.is_empty() || dims.len() > 255 {
        return Err(DataError::format(
            path,
            format!(
                "cannot write IDX with {} dimensions (1 to 255 supported)",
                dims.len()
            ),
        ));
    }
    let product = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if product != Some(data.len()) {
        return Err(DataError::format(
            path,
            format!(
                "cannot write IDX: dimensions {dims:?} do not match the {} data bytes",
                data.len()
            ),
        ));
    }
    let mut header = Vec::with_capacity(4 + 4 * dims.len());
    header.extend_from_slice(&[0, 0, IDX_TYPE_U8, dims.len() as u8]);
    for &d in dims {
        let d = u32::try_from(d).map_err(|_| {
            DataError::format(
                path,
                format!("cannot write IDX: dimension {d} exceeds the u32 range"),
            )
        })?;
        header.extend_from_slice(&d.to_be_bytes());
    }
    let io = |e: std::io::Error| DataError::io(path, e);
    let mut file = ae_io::AtomicFile::create(path).map_err(|e| DataError::io(path, e.source))?;
    if gzip {
        let mut enc = GzEncoder::new(&mut file, Compression::default());
        enc.write_all(&header).map_err(io)?;
        enc.write_all(data).map_err(io)?;
        enc.finish().map_err(io)?;
    } else {
        file.write_all(&header).map_err(io)?;
        file.write_all(data).map_err(io)?;
    }
    file.commit().map_err(|e| DataError::io(path, e.source))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_size_hint_is_exact_for_a_real_stream_and_capped_for_a_false_trailer() {
        let payload = vec![7u8; 100_000];
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&payload).unwrap();
        let gz = encoder.finish().unwrap();
        assert_eq!(gzip_size_hint(&gz), payload.len());
        let mut liar = vec![0x1f, 0x8b, 8, 0, 0, 0];
        liar.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(gzip_size_hint(&liar), liar.len() * 1032);
        assert_eq!(gzip_size_hint(&[0x1f, 0x8b]), 0);
    }

    fn sample() -> (Vec<usize>, Vec<u8>) {
        let dims = vec![3, 2, 4];
        let data = (0..24u8).map(|v| v.wrapping_mul(37)).collect();
        (dims, data)
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let (dims, data) = sample();
        for gzip in [false, true] {
            let path = dir.path().join(format!("a-{gzip}.idx"));
            write_idx(&path, &dims, &data, gzip).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(is_gzip(&bytes), gzip);
            if !gzip {
                assert_eq!(&bytes[..4], &[0, 0, 8, 3]);
                assert_eq!(bytes.len(), 4 + 12 + 24);
            }
            let arr = read_idx(&path).unwrap();
            assert_eq!(arr.dims, dims);
            assert_eq!(arr.data, data);
        }
    }

    #[test]
    fn gzip_is_detected_by_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let (dims, data) = sample();
        let path = dir.path().join("plain.gz");
        write_idx(&path, &dims, &data, false).unwrap();
        assert_eq!(read_idx(&path).unwrap().data, data);
        let path = dir.path().join("compressed.idx");
        write_idx(&path, &dims, &data, true).unwrap();
        assert_eq!(read_idx(&path).unwrap().data, data);
    }

    #[test]
    fn rejects_wrong_magic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad-magic.idx");
        std::fs::write(&path, [1, 2, 8, 1, 0, 0, 0, 1, 5]).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(msg.contains("bad-magic.idx"), "{msg}");
        assert!(msg.contains("magic"), "{msg}");
    }

    #[test]
    fn rejects_unsupported_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("floats.idx");
        std::fs::write(&path, [0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(msg.contains("floats.idx"), "{msg}");
        assert!(msg.contains("unsupported IDX data type 0x0d"), "{msg}");
    }

    #[test]
    fn rejects_truncated_data_and_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.idx");
        // Header says 2x3 = 6 bytes, only 4 present.
        std::fs::write(&path, [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4]).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(msg.contains("short.idx"), "{msg}");
        assert!(msg.contains("truncated data"), "{msg}");
        assert!(msg.contains("only 4 bytes"), "{msg}");

        let path = dir.path().join("short-header.idx");
        std::fs::write(&path, [0, 0, 8, 3, 0, 0, 0, 2]).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(msg.contains("short-header.idx"), "{msg}");
        assert!(msg.contains("truncated header"), "{msg}");
    }

    #[test]
    fn rejects_trailing_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.idx");
        std::fs::write(&path, [0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3]).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(msg.contains("long.idx"), "{msg}");
        assert!(msg.contains("trailing data: 1 unexpected"), "{msg}");
    }

    #[test]
    fn a_gzip_bomb_is_refused_without_inflating_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.gz");
        // A header declaring 100 images of 28 × 28, then 256 MiB of zeros in a file of a few
        // hundred kilobytes: reading stops a megabyte past the declared data.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        let mut header = vec![0, 0, IDX_TYPE_U8, 3];
        for d in [100u32, 28, 28] {
            header.extend_from_slice(&d.to_be_bytes());
        }
        encoder.write_all(&header).unwrap();
        let block = vec![0u8; 1 << 20];
        for _ in 0..256 {
            encoder.write_all(&block).unwrap();
        }
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(
            msg.contains("bomb.gz") && msg.contains("trailing data: more than"),
            "{msg}"
        );
        // A header declaring more than the stream could ever hold is refused at once.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        let mut header = vec![0, 0, IDX_TYPE_U8, 1];
        header.extend_from_slice(&u32::MAX.to_be_bytes());
        encoder.write_all(&header).unwrap();
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(msg.contains("cannot hold"), "{msg}");
        // Exact files still read, and a few trailing bytes are still counted exactly.
        let data: Vec<u8> = (0..60).collect();
        write_idx(&path, &[3, 20], &data, true).unwrap();
        assert_eq!(read_idx(&path).unwrap().data, data);
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        let mut bytes = vec![0, 0, IDX_TYPE_U8, 1, 0, 0, 0, 2, 7, 7, 7];
        encoder.write_all(&bytes).unwrap();
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(msg.contains("trailing data: 1 unexpected"), "{msg}");
        bytes.truncate(4);
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&bytes).unwrap();
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(msg.contains("truncated header"), "{msg}");
    }

    #[test]
    fn rejects_corrupt_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let (dims, data) = sample();
        let path = dir.path().join("broken.idx.gz");
        write_idx(&path, &dims, &data, true).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        // Cut the stream in half: the decoder must notice.
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&path, &bytes).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(msg.contains("broken.idx.gz"), "{msg}");
        assert!(msg.contains("corrupt gzip"), "{msg}");

        // Garbage after a valid gzip magic.
        std::fs::write(&path, [0x1f, 0x8b, 0xff, 0xff, 0xff, 0, 1, 2, 3, 4, 5]).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(msg.contains("corrupt gzip"), "{msg}");
    }

    #[test]
    fn missing_file_names_it() {
        let msg = read_idx(Path::new("/nonexistent/dir/missing.idx"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("missing.idx"), "{msg}");
    }

    #[test]
    fn write_rejects_mismatched_dims() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.idx");
        let msg = write_idx(&path, &[2, 2], &[1, 2, 3], false)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("w.idx"), "{msg}");
        assert!(write_idx(&path, &[], &[], false).is_err());
    }
}
