//! Dataset checksums: the "SHA-256 of the shipped files" section of `datasets/README.md`
//! checked against the files.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Component, Path};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// The datasets folder, relative to the workspace root.
pub const DATASETS_DIR: &str = "datasets";

/// One expected checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Path relative to the datasets folder.
    pub path: String,
}

/// The outcome of checking one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The file's SHA-256 is the expected one.
    Ok,
    /// The file's SHA-256 differs.
    Mismatch {
        /// The SHA-256 the file has.
        actual: String,
    },
    /// The file does not exist.
    Missing,
    /// The file exists but could not be read.
    Unreadable(String),
}

impl Status {
    /// Whether the file passed.
    pub fn is_ok(&self) -> bool {
        matches!(self, Status::Ok)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`, so that width flags such as `{status:<10}` apply.
        f.pad(match self {
            Status::Ok => "OK",
            Status::Mismatch { .. } => "MISMATCH",
            Status::Missing => "MISSING",
            Status::Unreadable(_) => "UNREADABLE",
        })
    }
}

/// Whether a markdown line is a heading whose text starts with "SHA-256".
fn is_checksum_heading(line: &str) -> bool {
    let text = line.trim_start_matches('#').trim().to_ascii_lowercase();
    line.starts_with('#') && text.starts_with("sha-256")
}

/// Parses the `sha256sum`-style lines (`<hex>  <path>`) of the README section whose heading
/// starts with "SHA-256", up to the next heading. Blank lines and code fences are skipped;
/// anything else malformed is an error, and so is a missing or empty section.
pub fn parse_checksums(readme: &str) -> Result<Vec<Checksum>> {
    let mut lines = readme.lines().enumerate();
    if !lines.any(|(_, line)| is_checksum_heading(line)) {
        bail!("the README has no \"SHA-256 of the shipped files\" section");
    }
    let mut checksums = Vec::new();
    for (index, line) in lines {
        let line = line.trim();
        if line.starts_with('#') {
            break;
        }
        if line.is_empty() || line.starts_with("```") {
            continue;
        }
        let number = index + 1;
        let (hash, path) = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            [hash, path] => (*hash, path.trim_start_matches('*')),
            _ => bail!("README line {number}: expected `<sha256>  <path>`, got `{line}`"),
        };
        if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            bail!("README line {number}: `{hash}` is not a hex SHA-256");
        }
        let relative = Path::new(path);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
        {
            bail!("README line {number}: `{path}` is not a plain path inside {DATASETS_DIR}/");
        }
        checksums.push(Checksum {
            sha256: hash.to_ascii_lowercase(),
            path: path.to_string(),
        });
    }
    if checksums.is_empty() {
        bail!("the README's SHA-256 section lists no files");
    }
    Ok(checksums)
}

/// The lowercase hex SHA-256 of a file's contents.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    io::copy(&mut File::open(path)?, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// Checks one file under `datasets_dir` against its expected checksum.
pub fn check(datasets_dir: &Path, checksum: &Checksum) -> Status {
    let path = datasets_dir.join(&checksum.path);
    match sha256_file(&path) {
        Ok(actual) if actual == checksum.sha256 => Status::Ok,
        Ok(actual) => Status::Mismatch { actual },
        Err(error) if error.kind() == io::ErrorKind::NotFound => Status::Missing,
        Err(error) => Status::Unreadable(error.to_string()),
    }
}

/// Checks every file listed in `<root>/datasets/README.md`, printing one line per file;
/// fails if any file is missing or differs.
pub fn check_all(root: &Path) -> Result<()> {
    let dir = root.join(DATASETS_DIR);
    let readme_path = dir.join("README.md");
    let readme = std::fs::read_to_string(&readme_path)
        .with_context(|| format!("cannot read {}", readme_path.display()))?;
    let checksums = parse_checksums(&readme)
        .with_context(|| format!("cannot parse {}", readme_path.display()))?;
    let mut failures = 0;
    for checksum in &checksums {
        let status = check(&dir, checksum);
        let path = format!("{DATASETS_DIR}/{}", checksum.path);
        match &status {
            Status::Ok | Status::Missing => println!("{status:<10} {path}"),
            Status::Mismatch { actual } => println!(
                "{status:<10} {path}\n           expected {}\n           actual   {actual}",
                checksum.sha256
            ),
            Status::Unreadable(error) => println!("{status:<10} {path}: {error}"),
        }
        if !status.is_ok() {
            failures += 1;
        }
    }
    if failures > 0 {
        bail!(
            "{failures} of {} dataset files failed the check",
            checksums.len()
        );
    }
    println!("all {} dataset files match", checksums.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256 of the five bytes `hello`.
    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    const README: &str = "# Datasets\n\
        Some text mentioning SHA-256 in passing.\n\
        \n\
        ## SHA-256 of the .gz files\n\
        420664dff7021ffb7f288af7bccd0aea97dece605d8e1dfbbf78795da06fbfdf  fashion-mnist/t10k-images-idx3-ubyte.gz\n\
        \n\
        1A1A05EAB793C14BB050B398624A11B0FFD1A2953BAED553B1B9BD079E2A20BE *mnist/t10k-images-idx3-ubyte.gz\n\
        ## Next section\n\
        0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971  not/listed.gz\n";

    #[test]
    fn parses_the_checksum_section_only() -> Result<()> {
        let checksums = parse_checksums(README)?;
        assert_eq!(
            checksums,
            [
                Checksum {
                    sha256: "420664dff7021ffb7f288af7bccd0aea97dece605d8e1dfbbf78795da06fbfdf"
                        .into(),
                    path: "fashion-mnist/t10k-images-idx3-ubyte.gz".into(),
                },
                Checksum {
                    sha256: "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be"
                        .into(),
                    path: "mnist/t10k-images-idx3-ubyte.gz".into(),
                },
            ]
        );
        Ok(())
    }

    #[test]
    fn rejects_missing_sections_and_malformed_lines() {
        assert!(parse_checksums("# Datasets\nno checksums here\n").is_err());
        assert!(parse_checksums("## SHA-256 of the .gz files\n\n## Other\n").is_err());
        let short = "## SHA-256 of the .gz files\nabc123  mnist/a.gz\n";
        assert!(
            parse_checksums(short)
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
        let escaping = format!("## SHA-256 of the .gz files\n{HELLO_SHA256}  ../secret\n");
        assert!(parse_checksums(&escaping).is_err());
        let extra = format!("## SHA-256 of the .gz files\n{HELLO_SHA256}  a.gz trailing\n");
        assert!(parse_checksums(&extra).is_err());
    }

    #[test]
    fn parses_the_projects_readme() -> Result<()> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(DATASETS_DIR)
            .join("README.md");
        let checksums = parse_checksums(&std::fs::read_to_string(path)?)?;
        assert!(checksums.iter().any(|c| c.path.starts_with("mnist/")));
        Ok(())
    }

    #[test]
    fn detects_matches_mismatches_and_missing_files() -> Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("hello.gz"), b"hello")?;
        let good = Checksum {
            sha256: HELLO_SHA256.into(),
            path: "hello.gz".into(),
        };
        assert_eq!(check(dir.path(), &good), Status::Ok);

        std::fs::write(dir.path().join("hello.gz"), b"hello!")?;
        match check(dir.path(), &good) {
            Status::Mismatch { actual } => assert_ne!(actual, HELLO_SHA256),
            other => panic!("expected a mismatch, got {other:?}"),
        }

        let absent = Checksum {
            path: "absent.gz".into(),
            ..good
        };
        assert_eq!(check(dir.path(), &absent), Status::Missing);
        Ok(())
    }

    #[test]
    fn check_all_fails_on_a_mismatch() -> Result<()> {
        let root = tempfile::tempdir()?;
        let dir = root.path().join(DATASETS_DIR);
        std::fs::create_dir(&dir)?;
        std::fs::write(dir.join("a.gz"), b"hello")?;
        std::fs::write(dir.join("b.gz"), b"tampered")?;
        std::fs::write(
            dir.join("README.md"),
            format!("## SHA-256 of the .gz files\n{HELLO_SHA256}  a.gz\n{HELLO_SHA256}  b.gz\n"),
        )?;
        let message = check_all(root.path()).unwrap_err().to_string();
        assert!(message.contains("1 of 2"), "{message}");
        std::fs::write(dir.join("b.gz"), b"hello")?;
        check_all(root.path())
    }
}
