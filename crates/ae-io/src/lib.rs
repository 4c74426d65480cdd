//! Files that appear whole or not at all, and the memory an allocation may take
//! ([`memory`]).
//!
//! Every file the toolkit writes (configs, checkpoints, models, tables, `.npy` arrays, pictures)
//! goes through [`AtomicFile`]: the bytes go to a hidden temporary file beside the target (made
//! with [`tempfile`]), which is flushed, synced and checked for its full size before it is
//! renamed over the target; the directory is synced after the rename. A crash, a full disk or
//! an error midway leaves the previous file (or none) under the target's name, never a
//! truncated one.
//!
//! Targets that are not regular files are treated deliberately: a symbolic link is followed
//! (the file it points to is replaced, the link stays), a FIFO or a character device such as
//! `/dev/null` is written through (no rename can replace it), and a directory or a block device
//! is refused.
//!
//! ```
//! # fn main() -> Result<(), ae_io::WriteError> {
//! # let dir = tempfile::tempdir().unwrap();
//! use std::io::Write;
//! let path = dir.path().join("scores.csv");
//! let mut file = ae_io::AtomicFile::create(&path)?;
//! writeln!(file, "index,score").map_err(|e| file.error(e))?;
//! file.commit()?;
//! ae_io::write_atomic(dir.path().join("note.txt"), b"done")?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod memory;

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A file could not be written; `path` is the file the caller asked for.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    /// The file the caller asked to write.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub source: io::Error,
}

impl WriteError {
    /// A write error on `path`.
    pub fn new(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self {
            path: path.into(),
            source,
        }
    }
}

enum Sink {
    /// A temporary sibling renamed over the target on commit.
    Temporary {
        out: BufWriter<NamedTempFile>,
        /// The file that is replaced: the target, or what its symbolic link points to.
        replaced: PathBuf,
    },
    /// A FIFO or character device, written directly.
    Through(BufWriter<fs::File>),
}

/// A file being written; readers see nothing new under its name until
/// [`AtomicFile::commit`]. Dropped without a commit, it removes its temporary file.
pub struct AtomicFile {
    path: PathBuf,
    sink: Option<Sink>,
    written: u64,
}

/// What is at a target path, and so how to write it.
enum Target {
    /// A regular file, or nothing yet: replace `PathBuf` by rename.
    Replace(PathBuf),
    /// A FIFO or character device: write through.
    Through,
}

fn inspect(path: &Path) -> io::Result<Target> {
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidInput, message);
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::Replace(path.into())),
        Err(e) => return Err(e),
    };
    let (resolved, meta) = if meta.file_type().is_symlink() {
        match fs::canonicalize(path) {
            Ok(real) => {
                let meta = fs::metadata(&real)?;
                (real, meta)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(invalid(
                    "it is a symbolic link to nothing (a dangling link): remove it or point it \
                     at a file"
                        .into(),
                ));
            }
            Err(e) => return Err(e),
        }
    } else {
        (path.to_path_buf(), meta)
    };
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(Target::Replace(resolved));
    }
    if kind.is_dir() {
        return Err(invalid("it is a directory".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() || kind.is_char_device() {
            return Ok(Target::Through);
        }
        if kind.is_block_device() {
            return Err(invalid(
                "it is a block device; refusing to write over a disk".into(),
            ));
        }
    }
    Err(invalid("it is not a regular file".into()))
}

impl AtomicFile {
    /// Starts writing `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, WriteError> {
        let path = path.as_ref().to_path_buf();
        let error = |e| WriteError::new(&path, e);
        let sink = match inspect(&path).map_err(error)? {
            Target::Through => {
                let file = fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(error)?;
                Sink::Through(BufWriter::new(file))
            }
            Target::Replace(replaced) => {
                let name = replaced
                    .file_name()
                    .ok_or_else(|| {
                        error(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "the path does not name a file",
                        ))
                    })?
                    .to_string_lossy()
                    .into_owned();
                let dir = parent_dir(&replaced);
                let prefix = format!(".{name}.");
                let mut builder = tempfile::Builder::new();
                builder.prefix(&prefix).suffix(".partial");
                if let Some(permissions) = permissions_for(&replaced) {
                    builder.permissions(permissions);
                }
                if !dir.is_dir() {
                    return Err(error(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("the folder {} does not exist", dir.display()),
                    )));
                }
                // tempfile names its own temporary file in the error: keep just the cause.
                let temp = builder
                    .tempfile_in(dir)
                    .map_err(|e| error(e.raw_os_error().map_or(e, io::Error::from_raw_os_error)))?;
                Sink::Temporary {
                    out: BufWriter::new(temp),
                    replaced,
                }
            }
        };
        Ok(Self {
            path,
            sink: Some(sink),
            written: 0,
        })
    }

    /// The path the file will have once committed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A [`WriteError`] naming this file, for an error met while writing it.
    pub fn error(&self, source: io::Error) -> WriteError {
        WriteError::new(&self.path, source)
    }

    /// Appends `bytes`, naming the file in the error.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        self.write_all(bytes).map_err(|e| self.error(e))
    }

    /// Flushes, syncs and checks the file, then renames it onto its path and syncs the
    /// directory; returns the path.
    pub fn commit(mut self) -> Result<PathBuf, WriteError> {
        let Some(sink) = self.sink.take() else {
            return Ok(self.path.clone());
        };
        let error = |e| WriteError::new(&self.path, e);
        match sink {
            Sink::Through(out) => {
                out.into_inner().map_err(|e| error(e.into_error()))?;
            }
            Sink::Temporary { out, replaced } => {
                let temp = out.into_inner().map_err(|e| error(e.into_error()))?;
                temp.as_file().sync_all().map_err(error)?;
                let size = temp.as_file().metadata().map_err(error)?.len();
                if size != self.written {
                    return Err(error(io::Error::other(format!(
                        "wrote {} bytes but the file holds {size}",
                        self.written
                    ))));
                }
                temp.persist(&replaced).map_err(|e| error(e.error))?;
                sync_dir(parent_dir(&replaced));
            }
        }
        Ok(self.path.clone())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.sink {
            Some(Sink::Temporary { out, .. }) => out.write(buf)?,
            Some(Sink::Through(out)) => out.write(buf)?,
            None => return Err(io::Error::other("the file was already committed")),
        };
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Some(Sink::Temporary { out, .. }) => out.flush(),
            Some(Sink::Through(out)) => out.flush(),
            None => Ok(()),
        }
    }
}

/// The permissions a new version of `path` gets: those of the file it replaces, else (on Unix)
/// what a plain `File::create` gives (read and write for all, less the umask), not the private
/// mode of a temporary file. `None` leaves the platform's default.
fn permissions_for(path: &Path) -> Option<fs::Permissions> {
    if let Ok(meta) = fs::metadata(path) {
        return Some(meta.permissions());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(fs::Permissions::from_mode(0o666))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Syncs a directory, so that a rename in it survives a crash. Best effort: not every
/// platform or file system can sync a directory, and the rename has happened either way.
pub fn sync_dir(dir: &Path) {
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), WriteError> {
    let mut file = AtomicFile::create(path)?;
    file.write_bytes(bytes)?;
    file.commit().map(|_| ())
}

/// Writes `path` atomically with `fill`, which writes the content; an error from `fill`
/// leaves the previous file in place.
pub fn write_with(
    path: impl AsRef<Path>,
    fill: impl FnOnce(&mut AtomicFile) -> io::Result<()>,
) -> Result<PathBuf, WriteError> {
    let mut file = AtomicFile::create(path)?;
    fill(&mut file).map_err(|e| file.error(e))?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn appears_only_when_committed_and_leaves_nothing_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        fs::write(&path, "old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_bytes(b"new ").unwrap();
        file.write_bytes(b"text").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(file.commit().unwrap(), path);
        assert_eq!(fs::read_to_string(&path).unwrap(), "new text");

        let mut abandoned = AtomicFile::create(&path).unwrap();
        abandoned.write_bytes(b"half").unwrap();
        drop(abandoned);
        assert_eq!(fs::read_to_string(&path).unwrap(), "new text");
        assert_eq!(names(dir.path()), ["out.csv"]);
    }

    #[test]
    fn a_failing_fill_keeps_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomic(&path, b"one").unwrap();
        let e = write_with(&path, |f| {
            f.write_all(b"tw")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("a.txt") && e.to_string().contains("disk full"));
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(names(dir.path()), ["a.txt"]);
    }

    #[test]
    fn a_missing_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/x.json");
        let e = write_atomic(&path, b"{}").unwrap_err().to_string();
        assert!(e.contains("cannot write") && e.contains("x.json"), "{e}");
        assert!(e.contains("folder") && e.contains("does not exist"), "{e}");
        assert!(!e.contains("partial"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn new_files_get_ordinary_permissions_and_replacements_keep_theirs() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.txt");
        write_atomic(&path, b"x").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // Readable by others unless the umask forbids it: never the temporary file's 0600.
        assert_ne!(mode, 0o600, "{mode:o}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"y").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{mode:o}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.txt");
        fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nothing"), &dangling).unwrap();
        let e = write_atomic(&dangling, b"x").unwrap_err().to_string();
        assert!(e.contains("dangling"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn character_devices_are_written_through_and_directories_refused() {
        // /dev/null stays a device: written through, not replaced.
        write_atomic("/dev/null", b"discarded").unwrap();
        let meta = fs::metadata("/dev/null").unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(meta.file_type().is_char_device());
        let dir = tempfile::tempdir().unwrap();
        let e = write_atomic(dir.path(), b"x").unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
    }
}
