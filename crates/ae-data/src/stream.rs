//! Data read a chunk of items at a time, so that an image folder or a CSV table larger than
//! memory can be encoded or scored in bounded memory.
//!
//! An image folder is listed first (paths only) and its images are decoded chunk by chunk.
//! A CSV table is read twice (after a scan for an unterminated quote): a first pass checks every row and collects the distinct labels
//! (so that labels and class names are exactly those of [`crate::table::read_csv`]), the
//! second yields the rows chunk by chunk. Either way, the concatenated chunks equal the data
//! set that the whole-file readers return.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, ImageShape};
use crate::error::{DataError, Result};
use crate::folder::{MismatchedSize, check_image_shape, list_image_folder, load_listed_images};
use crate::table::{CsvLayout, CsvOptions, QuoteScan, Records, order_class_names};
use crate::values::Values;

/// A data set delivered as consecutive chunks of at most `chunk_size` items.
pub struct ItemChunks {
    source: ChunkSource,
    shape: ImageShape,
    class_names: Vec<String>,
    len: usize,
    chunk_size: usize,
    delivered: usize,
}

enum ChunkSource {
    Memory(Dataset),
    Folder {
        files: Vec<(PathBuf, Option<u32>)>,
        on_mismatch: MismatchedSize,
    },
    Csv(Box<CsvRows>),
}

impl ItemChunks {
    /// Chunks of a data set already in memory.
    pub fn in_memory(data: Dataset, chunk_size: usize) -> Result<Self> {
        Ok(Self {
            shape: data.shape,
            class_names: data.class_names.clone(),
            len: data.len(),
            chunk_size: check_chunk_size(chunk_size)?,
            delivered: 0,
            source: ChunkSource::Memory(data),
        })
    }

    /// The images of the folder `root` (as [`crate::folder::load_image_folder`] loads them),
    /// decoded `chunk_size` at a time.
    pub fn image_folder(
        root: &Path,
        shape: ImageShape,
        on_mismatch: MismatchedSize,
        chunk_size: usize,
    ) -> Result<Self> {
        check_image_shape(shape)?;
        let listing = list_image_folder(root)?;
        Ok(Self {
            shape,
            class_names: listing.class_names,
            len: listing.files.len(),
            chunk_size: check_chunk_size(chunk_size)?,
            delivered: 0,
            source: ChunkSource::Folder {
                files: listing.files,
                on_mismatch,
            },
        })
    }

    /// The rows of the CSV table at `path` (as [`crate::table::read_csv`] reads them),
    /// `chunk_size` at a time. Every row is checked before this returns, so a bad cell is an
    /// error here, not halfway through the chunks.
    pub fn csv(path: &Path, label_column: Option<&str>, chunk_size: usize) -> Result<Self> {
        Self::csv_with(path, &CsvOptions::with_label(label_column), chunk_size)
    }

    /// The rows of the CSV table at `path` read as `options` say (as
    /// [`crate::table::read_csv_with`] reads them), `chunk_size` at a time.
    pub fn csv_with(path: &Path, options: &CsvOptions, chunk_size: usize) -> Result<Self> {
        let chunk_size = check_chunk_size(chunk_size)?;
        let (layout, rows, labels) = CsvRows::check_all(path, options)?;
        let class_names = order_class_names(labels.iter().map(String::as_str));
        let label_ids = class_names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i as u32))
            .collect();
        Ok(Self {
            shape: ImageShape::flat(layout.feature_cols.len()),
            class_names,
            len: rows,
            chunk_size,
            delivered: 0,
            source: ChunkSource::Csv(Box::new(CsvRows::open(
                path,
                options.delimiter,
                layout,
                label_ids,
            )?)),
        })
    }

    /// Number of items over all chunks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no items at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The shape of every item.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// The class names the chunks' labels index (empty without labels).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }
}

impl Iterator for ItemChunks {
    type Item = Result<Dataset>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.delivered >= self.len {
            return None;
        }
        let end = (self.delivered + self.chunk_size).min(self.len);
        let chunk = match &mut self.source {
            ChunkSource::Memory(data) => {
                Ok(data.subset(&(self.delivered..end).collect::<Vec<_>>()))
            }
            ChunkSource::Folder { files, on_mismatch } => load_listed_images(
                &files[self.delivered..end],
                &self.class_names,
                self.shape,
                *on_mismatch,
            ),
            ChunkSource::Csv(rows) => rows.next_chunk(end - self.delivered, &self.class_names),
        };
        match chunk {
            Ok(chunk) => {
                self.delivered = end;
                Some(Ok(chunk))
            }
            Err(error) => {
                // Nothing more after an error.
                self.delivered = self.len;
                Some(Err(error))
            }
        }
    }
}

fn check_chunk_size(chunk_size: usize) -> Result<usize> {
    if chunk_size == 0 {
        return Err(DataError::invalid("the chunk size must be at least 1"));
    }
    Ok(chunk_size)
}

/// The data rows of a CSV file, read record by record.
struct CsvRows {
    path: PathBuf,
    layout: CsvLayout,
    records: Records<BufReader<File>>,
    label_ids: HashMap<String, u32>,
}

impl CsvRows {
    fn open_file(path: &Path) -> Result<BufReader<File>> {
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        Ok(BufReader::new(file))
    }

    /// The first pass: the layout, the number of data rows and the distinct labels, after
    /// checking every row.
    fn check_all(
        path: &Path,
        options: &CsvOptions,
    ) -> Result<(CsvLayout, usize, BTreeSet<String>)> {
        let fmt = |m: String| DataError::format(path, m);
        let mut scan = QuoteScan::new(options.delimiter);
        let mut raw = Self::open_file(path)?;
        let mut buffer = vec![0u8; 1 << 16];
        loop {
            let n = raw.read(&mut buffer).map_err(|e| DataError::io(path, e))?;
            if n == 0 {
                break;
            }
            scan.feed(&buffer[..n]);
        }
        scan.finish().map_err(fmt)?;
        let mut records = Records::new(Self::open_file(path)?, path, options.delimiter);
        let Some((first_line, first)) = records.next_record()? else {
            return Err(fmt("empty file: no rows".to_string()));
        };
        let layout = CsvLayout::from_first_row(first_line, first, options).map_err(fmt)?;
        let mut scratch = Vec::new();
        let mut labels = BTreeSet::new();
        let mut rows = 0usize;
        let mut check = |line: usize, cells: &[String]| -> Result<()> {
            scratch.clear();
            if let Some(label) = layout.parse_row(line, cells, &mut scratch).map_err(fmt)?
                && !labels.contains(label)
            {
                labels.insert(label.to_string());
            }
            rows += 1;
            Ok(())
        };
        if layout.first_row_is_data() {
            let (line, cells) = layout.first_row();
            check(line, cells)?;
        }
        while let Some((line, cells)) = records.next_record()? {
            check(line, &cells)?;
        }
        if rows == 0 {
            return Err(fmt(format!(
                "no data rows (only the header on line {first_line})"
            )));
        }
        Ok((layout, rows, labels))
    }

    /// The second pass, positioned at the first data row.
    fn open(
        path: &Path,
        delimiter: u8,
        layout: CsvLayout,
        label_ids: HashMap<String, u32>,
    ) -> Result<Self> {
        let mut records = Records::new(Self::open_file(path)?, path, delimiter);
        if !layout.first_row_is_data() {
            // Skip the header.
            records.next_record()?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            layout,
            records,
            label_ids,
        })
    }

    /// The next `count` data rows as a data set.
    fn next_chunk(&mut self, count: usize, class_names: &[String]) -> Result<Dataset> {
        let fmt = |m: String| DataError::format(&self.path, m);
        let mut inputs = Vec::with_capacity(count * self.layout.feature_cols.len());
        let mut labels = Vec::new();
        for _ in 0..count {
            let Some((line, cells)) = self.records.next_record()? else {
                return Err(fmt(
                    "the file ended before all the rows of the first pass: was it changed while \
                     being read?"
                        .to_string(),
                ));
            };
            if let Some(label) = self
                .layout
                .parse_row(line, &cells, &mut inputs)
                .map_err(fmt)?
            {
                let id = self.label_ids.get(label).copied().ok_or_else(|| {
                    fmt(format!(
                        "line {line}: label {} was not in the file on the first pass: was it changed while being read?",
                        crate::table::quote(label)
                    ))
                })?;
                labels.push(id);
            }
        }
        Ok(Dataset {
            shape: ImageShape::flat(self.layout.feature_cols.len()),
            inputs: Values::F32(inputs),
            targets: None,
            target_shape: None,
            labels: self.layout.label_index.map(|_| labels),
            class_names: class_names.to_vec(),
            value_range: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::folder::{load_image_folder, tests::grey_png};
    use crate::table::read_csv;

    /// Concatenates chunks into one data set.
    fn concat(chunks: ItemChunks) -> Dataset {
        let mut whole: Option<Dataset> = None;
        for chunk in chunks {
            let chunk = chunk.expect("chunk reads");
            match &mut whole {
                None => whole = Some(chunk),
                Some(w) => {
                    w.inputs.extend_from(&chunk.inputs, 0..chunk.inputs.len());
                    if let (Some(l), Some(c)) = (&mut w.labels, &chunk.labels) {
                        l.extend_from_slice(c);
                    }
                }
            }
        }
        whole.expect("at least one chunk")
    }

    const TABLE: &str = "\u{feff}a,kind,b\n1,10,2.5\n\n3,2,4\n5,10,-1\n7,x,8\n9,2,0.5\n";

    #[test]
    fn csv_chunks_equal_the_whole_table_for_every_chunk_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, TABLE).unwrap();
        let numeric = dir.path().join("n.csv");
        std::fs::write(&numeric, TABLE.replace(",x,", ",11,")).unwrap();
        for (path, label) in [(&numeric, None), (&path, Some("kind"))] {
            let whole = read_csv(path, label).unwrap().data;
            for chunk_size in [1, 2, 3, 5, 100] {
                let chunks = ItemChunks::csv(path, label, chunk_size).unwrap();
                assert_eq!(chunks.len(), 5);
                let sizes: Vec<usize> = ItemChunks::csv(path, label, chunk_size)
                    .unwrap()
                    .map(|c| c.unwrap().len())
                    .collect();
                assert!(sizes.iter().all(|&s| s <= chunk_size), "{sizes:?}");
                let joined = concat(chunks);
                assert_eq!(
                    joined.inputs, whole.inputs,
                    "label {label:?}, chunk {chunk_size}"
                );
                assert_eq!(joined.labels, whole.labels);
                assert_eq!(joined.class_names, whole.class_names);
                assert_eq!(joined.shape, whole.shape);
            }
        }
        // Labels sort numerically when all are numbers: here they are not ("x").
        let chunks = ItemChunks::csv(&path, Some("kind"), 2).unwrap();
        assert_eq!(chunks.class_names(), ["10", "2", "x"]);
    }

    #[test]
    fn a_bad_row_anywhere_fails_before_the_first_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        let mut text = String::from("a,b\n");
        for i in 0..50 {
            text.push_str(&format!("{i},{i}\n"));
        }
        text.push_str("1,oops\n");
        std::fs::write(&path, text).unwrap();
        let error = ItemChunks::csv(&path, None, 4)
            .err()
            .expect("rejected")
            .to_string();
        assert!(
            error.contains("bad.csv") && error.contains("line 52") && error.contains("oops"),
            "{error}"
        );
        std::fs::write(&path, "a,b\n").unwrap();
        let error = ItemChunks::csv(&path, None, 4)
            .err()
            .expect("rejected")
            .to_string();
        assert!(error.contains("no data rows"), "{error}");
        std::fs::write(&path, b"a,b\n1,\xff\n").unwrap();
        let error = ItemChunks::csv(&path, None, 4)
            .err()
            .expect("rejected")
            .to_string();
        assert!(
            error.contains("line 2") && error.contains("UTF-8"),
            "{error}"
        );
        assert!(ItemChunks::csv(&path, None, 0).is_err());
    }

    #[test]
    fn folder_chunks_equal_the_whole_folder() {
        let dir = tempfile::tempdir().unwrap();
        for (class, count) in [("cats", 3u8), ("dogs", 4)] {
            let sub = dir.path().join(class);
            std::fs::create_dir(&sub).unwrap();
            for i in 0..count {
                grey_png(&sub.join(format!("{i}.png")), 5, 4, i * 40 + count);
            }
        }
        let shape = ImageShape::new(1, 4, 5);
        let whole = load_image_folder(dir.path(), shape, MismatchedSize::Reject).unwrap();
        for chunk_size in [1, 3, 7, 50] {
            let chunks =
                ItemChunks::image_folder(dir.path(), shape, MismatchedSize::Reject, chunk_size)
                    .unwrap();
            assert_eq!(chunks.len(), 7);
            assert_eq!(chunks.class_names(), ["cats", "dogs"]);
            let joined = concat(chunks);
            assert_eq!(joined.inputs, whole.inputs);
            assert_eq!(joined.labels, whole.labels);
        }
        let memory = concat(ItemChunks::in_memory(whole.clone(), 2).unwrap());
        assert_eq!(memory.inputs, whole.inputs);
        assert_eq!(memory.labels, whole.labels);
    }
}
