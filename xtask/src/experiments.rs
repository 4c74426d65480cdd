//! Named experiments: the TOML configs under `experiments/`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The folder holding the experiment configs, relative to the workspace root.
pub const EXPERIMENTS_DIR: &str = "experiments";

/// One experiment config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Experiment {
    /// The file stem: what `cargo xtask train` takes.
    pub name: String,
    /// The config file.
    pub path: PathBuf,
}

/// Every `experiments/*.toml` under `root`, sorted by name.
pub fn list(root: &Path) -> Result<Vec<Experiment>> {
    let dir = root.join(EXPERIMENTS_DIR);
    let entries =
        fs::read_dir(&dir).with_context(|| format!("cannot read the folder {}", dir.display()))?;
    let mut experiments = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read the folder {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "toml")
            && let Some(name) = path.file_stem().and_then(|s| s.to_str())
        {
            experiments.push(Experiment {
                name: name.to_string(),
                path,
            });
        }
    }
    experiments.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(experiments)
}

/// The experiment called `name` (a trailing `.toml` is accepted), or an error listing them all.
pub fn find(root: &Path, name: &str) -> Result<Experiment> {
    let name = name.strip_suffix(".toml").unwrap_or(name);
    let all = list(root)?;
    if let Some(found) = all.iter().find(|e| e.name == name) {
        return Ok(found.clone());
    }
    let available = if all.is_empty() {
        "(none)".to_string()
    } else {
        all.iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    bail!(
        "no experiment '{name}': {}/{name}.toml does not exist; available experiments: {available}",
        EXPERIMENTS_DIR
    )
}

/// The text of the first comment line (`# ...`), without the `#` and surrounding blanks.
pub fn first_comment_line(toml: &str) -> Option<&str> {
    toml.lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix('#'))
        .map(|rest| rest.trim_start_matches('#').trim())
}

/// Whether the config's model is a VAE: some uncommented line reads `model = "vae"`.
pub fn is_vae(toml: &str) -> bool {
    toml.lines().any(|line| {
        let code = line.split('#').next().unwrap_or("");
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        compact == "model=\"vae\"" || compact == "model='vae'"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_vae_configs_and_ignores_comments() {
        assert!(is_vae("[model]\nmodel = \"vae\"\nlatent = 20\n"));
        assert!(is_vae("[model]\n  model=\"vae\"   # a VAE\n"));
        assert!(!is_vae("[model]\nmodel = \"autoencoder\"\n"));
        assert!(!is_vae(
            "# model = \"vae\"\n[model]\nmodel = \"autoencoder\"\n"
        ));
    }

    #[test]
    fn takes_the_first_comment_line() {
        let toml = "\n# 784-400-20 VAE on MNIST.\n# more\nseed = 1\n";
        assert_eq!(first_comment_line(toml), Some("784-400-20 VAE on MNIST."));
        assert_eq!(first_comment_line("seed = 1\n"), None);
    }

    #[test]
    fn finds_experiments_and_lists_the_available_ones_otherwise() -> Result<()> {
        let root = tempfile::tempdir()?;
        fs::create_dir(root.path().join(EXPERIMENTS_DIR))?;
        for name in ["b-vae", "a-ae"] {
            fs::write(
                root.path()
                    .join(EXPERIMENTS_DIR)
                    .join(format!("{name}.toml")),
                "",
            )?;
        }
        fs::write(root.path().join(EXPERIMENTS_DIR).join("notes.md"), "")?;
        let names: Vec<String> = list(root.path())?.into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["a-ae", "b-vae"]);
        assert_eq!(find(root.path(), "b-vae.toml")?.name, "b-vae");
        let message = find(root.path(), "c").unwrap_err().to_string();
        assert!(message.contains("a-ae, b-vae"), "{message}");
        Ok(())
    }
}
