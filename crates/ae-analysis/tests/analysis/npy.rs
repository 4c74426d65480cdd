use std::path::PathBuf;

use ae_analysis::{
    AnalysisError, NpyRowWriter, read_npy_f32, read_npy_i64, write_npy_f32, write_npy_i64,
};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ae-analysis-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn f32_round_trip_and_exact_header() {
    let dir = TempDir::new("f32");
    let path = dir.0.join("latents.npy");
    let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 2.0).collect();
    write_npy_f32(&path, 3, 4, &data).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0);
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    assert!(header.starts_with(dict), "{header:?}");
    assert!(header.ends_with('\n'));
    assert!(
        header[dict.len()..header_len - 1]
            .bytes()
            .all(|b| b == b' ')
    );
    // 10-byte preamble + 60-byte dict + newline = 71 → padded to 128.
    assert_eq!(header_len, 118);
    assert_eq!(bytes.len(), 128 + 12 * 4);
    assert_eq!(&bytes[128..132], &(-2.0f32).to_le_bytes());
    let back = read_npy_f32(&path).unwrap();
    assert_eq!(back.shape, vec![3, 4]);
    assert_eq!(back.data, data);
    // No temporary files are left behind.
    let entries: Vec<_> = std::fs::read_dir(&dir.0).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn i64_round_trip_with_one_dimensional_shape() {
    let dir = TempDir::new("i64");
    let path = dir.0.join("labels.npy");
    let labels = [3i64, -1, 0, 9, i64::MAX];
    write_npy_i64(&path, &labels).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let header = std::str::from_utf8(&bytes[10..128]).unwrap();
    assert!(header.starts_with("{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"));
    let back = read_npy_i64(&path).unwrap();
    assert_eq!(back.shape, vec![5]);
    assert_eq!(back.data, labels);
    // Overwriting an existing file replaces it.
    write_npy_i64(&path, &[1]).unwrap();
    assert_eq!(read_npy_i64(&path).unwrap().data, vec![1]);
    // Reading with the wrong dtype is refused.
    assert!(matches!(
        read_npy_f32(&path),
        Err(AnalysisError::Npy { .. })
    ));
}

#[test]
fn truncated_or_foreign_files_are_rejected_with_their_name() {
    let dir = TempDir::new("bad");
    let path = dir.0.join("cut.npy");
    write_npy_f32(&path, 2, 3, &[1.0; 6]).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let err = read_npy_f32(&path).unwrap_err();
    assert!(matches!(err, AnalysisError::Npy { .. }));
    assert!(err.to_string().contains("cut.npy"), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");

    let bogus = dir.0.join("bogus.npy");
    std::fs::write(&bogus, b"PK\x03\x04 definitely not numpy").unwrap();
    let err = read_npy_f32(&bogus).unwrap_err();
    assert!(
        err.to_string().contains("bogus.npy") && err.to_string().contains("magic"),
        "{err}"
    );

    let missing = dir.0.join("missing.npy");
    let err = read_npy_f32(&missing).unwrap_err();
    assert!(matches!(err, AnalysisError::Io { .. }));
    assert!(err.to_string().contains("missing.npy"));

    assert!(matches!(
        write_npy_f32(dir.0.join("x.npy"), 2, 2, &[0.0; 3]),
        Err(AnalysisError::ShapeMismatch { .. })
    ));
    let err = write_npy_f32(dir.0.join("no/such/dir/x.npy"), 1, 1, &[0.0]).unwrap_err();
    assert!(err.to_string().contains("x.npy"), "{err}");
}

#[test]
fn row_writer_equals_the_whole_array_writer_and_checks_the_row_count() {
    let dir = TempDir::new("rows");
    let whole = dir.0.join("whole.npy");
    let rows = dir.0.join("rows.npy");
    let data: Vec<f32> = (0..15).map(|i| i as f32 * 0.25 - 1.0).collect();
    write_npy_f32(&whole, 5, 3, &data).unwrap();
    let mut writer = NpyRowWriter::create(&rows, 5, 3).unwrap();
    writer.write_rows(&data[..6]).unwrap();
    writer.write_rows(&data[6..9]).unwrap();
    // Not yet visible under its name.
    assert!(!rows.exists());
    writer.write_rows(&data[9..]).unwrap();
    writer.finish().unwrap();
    assert_eq!(
        std::fs::read(&rows).unwrap(),
        std::fs::read(&whole).unwrap()
    );

    let short = dir.0.join("short.npy");
    let mut writer = NpyRowWriter::create(&short, 5, 3).unwrap();
    writer.write_rows(&data[..6]).unwrap();
    assert!(writer.write_rows(&data[..4]).is_err(), "a partial row");
    let error = writer.finish().unwrap_err().to_string();
    assert!(
        error.contains("2 rows written of the declared 5"),
        "{error}"
    );
    assert!(!short.exists());
    let mut writer = NpyRowWriter::create(&short, 1, 3).unwrap();
    assert!(writer.write_rows(&data[..6]).is_err(), "too many rows");
}
