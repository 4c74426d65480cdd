//! `cargo xtask bench-anomaly`: tabular anomaly detection over the shipped tables of
//! `datasets/tabular/`, the toolkit's autoencoder and its classical baselines (through `ae`)
//! side by side with PyOD's detectors (benches/pyod/bench_anomaly.py) on the same splits.
//!
//! Protocol: a labelled table is split once per seed. The real tables are one-class: each class
//! in turn is normal and every other class anomalous (one task per class); the synthetic tables
//! mark anomalies with label 1. 60% of the normal rows (shuffled by the seed) train; the other
//! 40% and every anomaly test. A data set's AUROC for a seed is the mean over its tasks; the
//! table shows the median over seeds and the spread (max − min).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::bench::{last_json, number};
use crate::{ae_binary, capture_stdout, cargo, describe, run_command};

/// How a shipped table's labels define its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// Each class in turn is normal, the others anomalous.
    OneClass,
    /// Label 0 is normal, 1 anomalous.
    Labelled,
}

/// The shipped tables, in the order of the table.
const SETS: [(&str, Protocol); 7] = [
    ("wine", Protocol::OneClass),
    ("breast-cancer", Protocol::OneClass),
    ("digits", Protocol::OneClass),
    ("synthetic-local", Protocol::Labelled),
    ("synthetic-global", Protocol::Labelled),
    ("synthetic-clustered", Protocol::Labelled),
    ("synthetic-dependency", Protocol::Labelled),
];

/// Arguments of `cargo xtask bench-anomaly`.
#[derive(Debug, Args)]
pub struct BenchAnomalyArgs {
    /// Seeds per task (splits, initializations and the detectors' own randomness).
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Data sets, comma separated (default: all of datasets/tabular).
    #[arg(long, value_delimiter = ',')]
    pub sets: Option<Vec<String>>,
    /// Also run PyOD's AutoEncoder and VAE, Isolation Forest, one-class SVM and PCA
    /// (benches/pyod/bench_anomaly.py) on the same splits.
    #[arg(long)]
    pub pyod: bool,
    /// The Python with PyOD for --pyod (default: $AE_BENCH_PYTHON, else python3).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// The name of our configuration in the table and JSON.
    #[arg(long, default_value = "ae")]
    pub label: String,
    /// Our model: `ae` (autoencoder) or `vae`.
    #[arg(long, default_value = "ae")]
    pub model: String,
    /// Score for `ae anomaly eval` (default: the model's default).
    #[arg(long)]
    pub score: Option<String>,
    /// Skip the 10,000 × 30 timing of training plus scoring.
    #[arg(long)]
    pub skip_timing: bool,
    /// Extra flags for `ae train`, after `--` (e.g. `-- --epochs 50 --dropout 0.1`).
    #[arg(last = true, value_name = "AE_TRAIN_FLAGS")]
    pub train_flags: Vec<String>,
}

/// A table: its column names (the label last) and rows of features with their labels.
struct Table {
    header: String,
    rows: Vec<(String, i64)>,
}

fn read_table(path: &Path) -> Result<Table> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .with_context(|| format!("{} is empty", path.display()))?;
    let (features, label) = header
        .rsplit_once(',')
        .with_context(|| format!("{}: the header has one column", path.display()))?;
    if label != "label" {
        bail!(
            "{}: the last column is {label:?}, expected \"label\"",
            path.display()
        );
    }
    let mut rows = Vec::new();
    for (number, line) in lines.enumerate() {
        let (values, label) = line
            .rsplit_once(',')
            .with_context(|| format!("{} line {}: one column", path.display(), number + 2))?;
        let label = label.trim().parse::<i64>().with_context(|| {
            format!(
                "{} line {}: label {label:?} is not an integer",
                path.display(),
                number + 2
            )
        })?;
        rows.push((values.to_string(), label));
    }
    Ok(Table {
        header: features.to_string(),
        rows,
    })
}

/// SplitMix64: a small seeded generator, enough to shuffle rows reproducibly.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// One task: a table and the labels that are normal in it.
struct Task {
    set: &'static str,
    name: String,
    normal: Vec<i64>,
}

fn tasks(set: &'static str, protocol: Protocol, table: &Table) -> Vec<Task> {
    match protocol {
        Protocol::Labelled => vec![Task {
            set,
            name: set.to_string(),
            normal: vec![0],
        }],
        Protocol::OneClass => {
            let mut classes: Vec<i64> = table.rows.iter().map(|r| r.1).collect();
            classes.sort_unstable();
            classes.dedup();
            classes
                .into_iter()
                .map(|c| Task {
                    set,
                    name: format!("{set}-{c}"),
                    normal: vec![c],
                })
                .collect()
        }
    }
}

/// Writes `<dir>/train.csv` (60% of the normal rows) and `<dir>/test.csv` (the rest and every
/// anomaly), labels 0 normal, 1 anomaly.
fn write_split(table: &Table, task: &Task, seed: u64, dir: &Path) -> Result<()> {
    let mut normal: Vec<&str> = Vec::new();
    let mut anomalies: Vec<&str> = Vec::new();
    for (values, label) in &table.rows {
        if task.normal.contains(label) {
            normal.push(values);
        } else {
            anomalies.push(values);
        }
    }
    // The task's name joins the seed so that tasks of one table do not share an order.
    let salt = task.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    SplitMix(seed ^ salt).shuffle(&mut normal);
    let cut = normal.len() * 6 / 10;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut train = format!("{},label\n", table.header);
    for row in &normal[..cut] {
        let _ = writeln!(train, "{row},0");
    }
    let mut test = format!("{},label\n", table.header);
    for row in &normal[cut..] {
        let _ = writeln!(test, "{row},0");
    }
    for row in &anomalies {
        let _ = writeln!(test, "{row},1");
    }
    for (name, text) in [("train.csv", train), ("test.csv", test)] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Trains our model on one split and evaluates it with the baselines; one record per method.
fn run_ours(ae: &Path, split: &Path, seed: u64, args: &BenchAnomalyArgs) -> Result<Vec<Value>> {
    let run = split.join("run");
    let path = |p: &Path| p.display().to_string();
    let started = Instant::now();
    let mut train = Command::new(ae);
    train
        .args(["-q", "train", "--data", "csv", "--data-path"])
        .arg(split.join("train.csv"))
        .args(["--label-column", "label", "--model", &args.model, "--seed"])
        .arg(seed.to_string())
        .arg("--run-dir")
        .arg(&run)
        .args(["--overwrite", "--plain", "--no-pictures"])
        .args(&args.train_flags);
    capture_stdout(train)?;
    let train_seconds = started.elapsed().as_secs_f64();
    let mut eval = Command::new(ae);
    eval.args(["-q", "anomaly", "eval", &path(&run), "--data-path"])
        .arg(split.join("test.csv"))
        .args([
            "--label-column",
            "label",
            "--anomaly-classes",
            "1",
            "--baselines",
        ])
        .arg("--out")
        .arg(run.join("roc.png"));
    if let Some(score) = &args.score {
        eval.args(["--score", score]);
    }
    let report = last_json(&capture_stdout(eval)?)?;
    let mut records = vec![json!({
        "method": args.label,
        "auroc": number(&report, "/auroc")?,
        "auprc": number(&report, "/auprc")?,
        "seconds": train_seconds,
    })];
    if let Some(baselines) = report.get("baselines").and_then(Value::as_array) {
        for baseline in baselines {
            let name = baseline
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("baseline");
            // `PCA-k` keeps as many components as the code (or the table has columns).
            let method = if name.starts_with("PCA-") {
                "ae-pca".to_string()
            } else {
                format!("ae-{}", name.to_lowercase().replace(' ', "-"))
            };
            records.push(json!({
                "method": method,
                "components": name.strip_prefix("PCA-").and_then(|k| k.parse::<u64>().ok()),
                "auroc": number(baseline, "/auroc")?,
                "auprc": number(baseline, "/auprc")?,
            }));
        }
    }
    Ok(records)
}

/// The median of `values` (not empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Runs `cargo xtask bench-anomaly`.
pub fn bench_anomaly(root: &Path, args: BenchAnomalyArgs) -> Result<()> {
    if args.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    if !["ae", "vae"].contains(&args.model.as_str()) {
        bail!("--model must be ae or vae, got {:?}", args.model);
    }
    let sets: Vec<(&'static str, Protocol)> = match &args.sets {
        None => SETS.to_vec(),
        Some(names) => names
            .iter()
            .map(|name| {
                SETS.iter()
                    .find(|(set, _)| set == name)
                    .copied()
                    .with_context(|| {
                        format!(
                            "unknown data set {name:?}: expected one of {}",
                            SETS.map(|s| s.0).join(", ")
                        )
                    })
            })
            .collect::<Result<_>>()?,
    };
    let out = root.join("target/bench/anomaly");
    let splits = out.join("splits");
    if splits.exists() {
        std::fs::remove_dir_all(&splits)
            .with_context(|| format!("cannot clear {}", splits.display()))?;
    }

    let mut build = cargo(root);
    build.args(["build", "--release", "-p", "ae-cli", "--bin", "ae"]);
    run_command(build)?;
    let ae = ae_binary(root);

    // Splits, then our model on each.
    let mut all_tasks = Vec::new();
    for (set, protocol) in &sets {
        let table = read_table(&root.join("datasets/tabular").join(format!("{set}.csv")))?;
        for task in tasks(set, *protocol, &table) {
            for seed in 0..args.seeds {
                let dir = splits.join(&task.name).join(format!("seed-{seed}"));
                write_split(&table, &task, seed, &dir)?;
            }
            all_tasks.push(task);
        }
    }
    let mut records: Vec<Value> = Vec::new();
    let total = all_tasks.len() as u64 * args.seeds;
    let started = Instant::now();
    let mut done = 0u64;
    for task in &all_tasks {
        for seed in 0..args.seeds {
            let dir = splits.join(&task.name).join(format!("seed-{seed}"));
            for mut record in run_ours(&ae, &dir, seed, &args)? {
                record["task"] = json!(task.name);
                record["set"] = json!(task.set);
                record["seed"] = json!(seed);
                records.push(record);
            }
            done += 1;
            let elapsed = started.elapsed().as_secs_f64();
            let left = elapsed / done as f64 * (total - done) as f64;
            eprintln!(
                "[{done}/{total}] {} seed {seed} ({elapsed:.0} s, about {left:.0} s left)",
                task.name
            );
        }
    }

    if args.pyod {
        let python = args
            .python
            .clone()
            .or_else(|| std::env::var_os("AE_BENCH_PYTHON").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("python3"));
        let pyod_json = out.join("pyod.json");
        let mut command = Command::new(&python);
        command
            .current_dir(root)
            .arg("benches/pyod/bench_anomaly.py")
            .arg("--splits")
            .arg(&splits)
            .arg("--out")
            .arg(&pyod_json)
            .args(["--threads", "2", "--device", "cpu"]);
        run_command(command).with_context(|| {
            format!(
                "the PyOD baselines failed (install them with `pip install -r \
                 benches/pyod/requirements.txt` and point AE_BENCH_PYTHON at that Python): {}",
                describe(&Command::new(&python))
            )
        })?;
        let text = std::fs::read_to_string(&pyod_json)
            .with_context(|| format!("cannot read {}", pyod_json.display()))?;
        let pyod: Vec<Value> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON list", pyod_json.display()))?;
        for mut record in pyod {
            if record.get("error").is_some() {
                eprintln!("PyOD: {record}");
                continue;
            }
            let task = record["task"].as_str().unwrap_or_default().to_string();
            let set = all_tasks
                .iter()
                .find(|t| t.name == task)
                .map(|t| t.set)
                .unwrap_or("?");
            record["set"] = json!(set);
            records.push(record);
        }
    }

    let timing = if args.skip_timing {
        None
    } else {
        Some(time_large_table(&ae, &out, &args)?)
    };

    let summary = summarize(&records, &sets);
    let table = render(&summary, &sets, timing.as_ref(), &args);
    print!("{table}");
    std::fs::write(out.join("anomaly.md"), &table)
        .with_context(|| format!("cannot write {}", out.join("anomaly.md").display()))?;
    let json = json!({
        "protocol": "one-class splits: 60% of the normal rows train, the rest and every anomaly test; a set's AUROC per seed is the mean over its tasks; median and spread (max - min) over seeds",
        "seeds": args.seeds,
        "train_flags": args.train_flags,
        "score": args.score,
        "summary": summary,
        "timing": timing,
        "records": records,
    });
    let path = out.join("anomaly.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "saved {} and {}",
        path.display(),
        out.join("anomaly.md").display()
    );
    Ok(())
}

/// Per set and method: the per-seed means over tasks, their median and spread, for AUROC and
/// AUPRC.
fn summarize(records: &[Value], sets: &[(&'static str, Protocol)]) -> Value {
    // (set, method, seed) -> (sum auroc, sum auprc, count)
    let mut cells: BTreeMap<(String, String, u64), (f64, f64, usize)> = BTreeMap::new();
    for r in records {
        let (Some(set), Some(method), Some(seed), Some(auroc), Some(auprc)) = (
            r["set"].as_str(),
            r["method"].as_str(),
            r["seed"].as_u64(),
            r["auroc"].as_f64(),
            r["auprc"].as_f64(),
        ) else {
            continue;
        };
        let cell = cells
            .entry((set.to_string(), method.to_string(), seed))
            .or_insert((0.0, 0.0, 0));
        cell.0 += auroc;
        cell.1 += auprc;
        cell.2 += 1;
    }
    let mut per: BTreeMap<(String, String), (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for ((set, method, _), (auroc, auprc, n)) in cells {
        let entry = per.entry((set, method)).or_default();
        entry.0.push(auroc / n as f64);
        entry.1.push(auprc / n as f64);
    }
    let mut out = serde_json::Map::new();
    for (set, _) in sets {
        let mut methods = serde_json::Map::new();
        for ((s, method), (auroc, auprc)) in &per {
            if s != set {
                continue;
            }
            let spread = |v: &[f64]| {
                v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                    - v.iter().copied().fold(f64::INFINITY, f64::min)
            };
            methods.insert(
                method.clone(),
                json!({
                    "auroc_median": median(&mut auroc.clone()),
                    "auroc_spread": spread(auroc),
                    "auprc_median": median(&mut auprc.clone()),
                    "auprc_spread": spread(auprc),
                    "seeds": auroc.len(),
                }),
            );
        }
        out.insert(set.to_string(), Value::Object(methods));
    }
    Value::Object(out)
}

/// The methods in the order of the table's columns: ours first, then our baselines, then PyOD.
fn method_order(summary: &Value, label: &str) -> Vec<String> {
    let mut methods: Vec<String> = Vec::new();
    if let Some(sets) = summary.as_object() {
        for set in sets.values() {
            if let Some(m) = set.as_object() {
                for name in m.keys() {
                    if !methods.contains(name) {
                        methods.push(name.clone());
                    }
                }
            }
        }
    }
    let rank = |m: &str| {
        if m == label {
            0
        } else if m.starts_with("ae-") {
            1
        } else if m.starts_with("pyod-") {
            2
        } else {
            3
        }
    };
    methods.sort_by_key(|m| (rank(m), m.clone()));
    methods
}

fn render(
    summary: &Value,
    sets: &[(&'static str, Protocol)],
    timing: Option<&Value>,
    args: &BenchAnomalyArgs,
) -> String {
    let methods = method_order(summary, &args.label);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Median AUROC over {} seeds (spread max - min in brackets); ours: `{}` with `ae train --model {} {}`{}",
        args.seeds,
        args.label,
        args.model,
        if args.train_flags.is_empty() {
            "(tabular defaults)".to_string()
        } else {
            args.train_flags.join(" ")
        },
        args.score
            .as_ref()
            .map(|s| format!(", score {s}"))
            .unwrap_or_default()
    );
    let _ = writeln!(text);
    for (metric, title) in [("auroc", "AUROC"), ("auprc", "AUPRC")] {
        let _ = writeln!(text, "| {title} | {} |", methods.join(" | "));
        let _ = writeln!(text, "|---|{}", "---|".repeat(methods.len()));
        for (set, _) in sets {
            let mut row = format!("| {set} |");
            for method in &methods {
                let cell = &summary[*set][method.as_str()];
                match (
                    cell[format!("{metric}_median")].as_f64(),
                    cell[format!("{metric}_spread")].as_f64(),
                ) {
                    (Some(m), Some(s)) => {
                        let _ = write!(row, " {m:.3} ({s:.3}) |");
                    }
                    _ => row.push_str(" – |"),
                }
            }
            let _ = writeln!(text, "{row}");
        }
        let _ = writeln!(text);
    }
    if let Some(t) = timing {
        let _ = writeln!(
            text,
            "Training plus scoring a 10,000 x 30 table: {:.1} s (train {:.1} s, score {:.1} s)",
            t["total_seconds"].as_f64().unwrap_or(f64::NAN),
            t["train_seconds"].as_f64().unwrap_or(f64::NAN),
            t["score_seconds"].as_f64().unwrap_or(f64::NAN)
        );
    }
    text
}

/// Times `ae train` plus `ae anomaly score` on a synthetic 10,000 × 30 table (correlated
/// Gaussian features).
fn time_large_table(ae: &Path, out: &Path, args: &BenchAnomalyArgs) -> Result<Value> {
    let dir = out.join("timing");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut rng = SplitMix(7);
    let mut uniform = || (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    let mut text = (0..30)
        .map(|j| format!("x{j}"))
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    for _ in 0..10_000 {
        // Five latent factors mixed into 30 columns, plus noise.
        let factors: Vec<f64> = (0..5)
            .map(|_| {
                let (u, v) = (uniform().max(1e-12), uniform());
                (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
            })
            .collect();
        let row: Vec<String> = (0..30)
            .map(|j| {
                let x = factors[j % 5] * (1.0 + j as f64 / 10.0) + 0.1 * (uniform() - 0.5);
                format!("{x:.6}")
            })
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    let table = dir.join("table.csv");
    std::fs::write(&table, text).with_context(|| format!("cannot write {}", table.display()))?;
    let run = dir.join("run");
    let started = Instant::now();
    let mut train = Command::new(ae);
    train
        .args(["-q", "train", "--data", "csv", "--data-path"])
        .arg(&table)
        .args(["--model", &args.model, "--seed", "0", "--run-dir"])
        .arg(&run)
        .args(["--overwrite", "--plain", "--no-pictures"])
        .args(&args.train_flags);
    capture_stdout(train)?;
    let train_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut score = Command::new(ae);
    score
        .args(["-q", "anomaly", "score"])
        .arg(&run)
        .arg("--data-path")
        .arg(&table)
        .arg("--out")
        .arg(dir.join("scores.csv"));
    capture_stdout(score)?;
    let score_seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "rows": 10_000,
        "columns": 30,
        "train_seconds": train_seconds,
        "score_seconds": score_seconds,
        "total_seconds": train_seconds + score_seconds,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_keep_sixty_percent_of_the_normal_rows_and_every_anomaly() {
        let table = Table {
            header: "a,b".into(),
            rows: (0..50).map(|i| (format!("{i},{i}"), i % 5)).collect(),
        };
        let task = Task {
            set: "t",
            name: "t-2".into(),
            normal: vec![2],
        };
        let dir = tempfile::tempdir().unwrap();
        write_split(&table, &task, 3, dir.path()).unwrap();
        let train = std::fs::read_to_string(dir.path().join("train.csv")).unwrap();
        let test = std::fs::read_to_string(dir.path().join("test.csv")).unwrap();
        assert!(train.starts_with("a,b,label\n"));
        assert_eq!(train.lines().count() - 1, 6);
        assert_eq!(test.lines().count() - 1, 4 + 40);
        assert!(train.lines().skip(1).all(|l| l.ends_with(",0")));
        assert_eq!(test.lines().filter(|l| l.ends_with(",1")).count(), 40);
        // Every normal row is in exactly one of the two files.
        for i in (2..50).step_by(5) {
            let row = format!("{i},{i},0");
            let in_train = train.lines().any(|l| l == row);
            let in_test = test.lines().any(|l| l == row);
            assert!(in_train != in_test, "row {i}");
        }
        // Another seed shuffles differently.
        let other = tempfile::tempdir().unwrap();
        write_split(&table, &task, 4, other.path()).unwrap();
        let train_other = std::fs::read_to_string(other.path().join("train.csv")).unwrap();
        assert_ne!(train, train_other);
    }

    #[test]
    fn summaries_average_tasks_then_take_the_median_over_seeds() {
        let mut records = Vec::new();
        for (seed, values) in [(0, [0.6, 0.8]), (1, [0.9, 0.9]), (2, [0.5, 0.5])] {
            for (task, v) in ["s-0", "s-1"].iter().zip(values) {
                records.push(json!({"set": "s", "task": task, "method": "m", "seed": seed, "auroc": v, "auprc": v / 2.0}));
            }
        }
        let sets = [("s", Protocol::OneClass)];
        let summary = summarize(&records, &sets);
        let cell = &summary["s"]["m"];
        // Per seed: 0.7, 0.9, 0.5 -> median 0.7, spread 0.4.
        assert!((cell["auroc_median"].as_f64().unwrap() - 0.7).abs() < 1e-12);
        assert!((cell["auroc_spread"].as_f64().unwrap() - 0.4).abs() < 1e-12);
        assert!((cell["auprc_median"].as_f64().unwrap() - 0.35).abs() < 1e-12);
    }

    #[test]
    fn tables_without_a_label_column_last_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "label,a\n0,1\n").unwrap();
        let error = read_table(&path).err().unwrap().to_string();
        assert!(error.contains("expected \"label\""), "{error}");
        std::fs::write(&path, "a,label\n1,x\n").unwrap();
        let error = read_table(&path).err().unwrap().to_string();
        assert!(error.contains("line 2"), "{error}");
    }
}
