//! Nothing lost, second round: `--out` onto links, FIFOs and devices; a full disk; damaged
//! and mismatched checkpoints; absurd sizes; a closed stdout; non-UTF-8 paths; a run stopped
//! before its model; existing runs and a second writer; SIGTERM and SIGHUP.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// `ae train` flags for a small MNIST autoencoder (300 items, batches of 50).
fn small(run: &Path, epochs: &str) -> Vec<String> {
    [
        "train",
        "--model",
        "ae",
        "--hidden",
        "32",
        "--latent",
        "4",
        "--limit",
        "300",
        "--batch-size",
        "50",
        "--epochs",
        epochs,
        "--data-path",
        &datasets(),
        "--no-pictures",
        "--plain",
        "--run-dir",
        &path_str(run),
    ]
    .map(String::from)
    .to_vec()
}

fn run_ae(args: &[String]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ae(&args)
}

fn with(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The error line at the end of a failed command's stderr (after any progress lines).
fn error_line(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "expected a failure: {}", stdout(out));
    let text = stderr(out);
    assert!(!text.contains("panicked"), "{text}");
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line in: {text}"));
    line.to_string()
}

#[test]
fn out_follows_links_writes_through_fifos_and_devices_and_refuses_folders() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    json(&run_ae(&small(&run, "1")));
    let run_s = path_str(&run);

    // A symbolic link: the file it points to is replaced, the link stays.
    let real = dir.path().join("real.png");
    std::fs::write(&real, "old").unwrap();
    let link = dir.path().join("link.png");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    ok(&[
        "reconstruct",
        &run_s,
        "--count",
        "2",
        "--out",
        &path_str(&link),
    ]);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(png_size(&real), (2 * (84 + 2) + 2, 2 * (84 + 2) + 2));

    // A FIFO: written through (a reader gets the picture), and still a FIFO.
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    ok(&[
        "reconstruct",
        &run_s,
        "--count",
        "2",
        "--out",
        &path_str(&fifo),
    ]);
    let bytes = reader.join().unwrap();
    assert_eq!(&bytes[1..4], b"PNG", "the reader got a PNG");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());

    // A character device like /dev/null stays a device (mknod needs root).
    let null = dir.path().join("null");
    let made = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    if made.success() {
        ok(&[
            "reconstruct",
            &run_s,
            "--count",
            "2",
            "--out",
            &path_str(&null),
        ]);
        assert!(
            std::fs::metadata(&null)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    } else {
        println!("skipped the device node: mknod needs root");
    }

    // A folder is refused, and left alone.
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    let err = fails(&["reconstruct", &run_s, "--out", &path_str(&folder)]);
    assert!(err.contains("folder") && err.contains("directory"), "{err}");
    assert!(folder.is_dir());
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, bytes: u64) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .arg("tmpfs")
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Self(at.to_path_buf()))
    }

    fn resize(&self, bytes: u64) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The bytes of the checkpoint of `epoch` of `run` (model, optimizer and scheduler).
fn checkpoint_bytes(run: &Path, epoch: usize) -> u64 {
    ["model", "optim", "scheduler"]
        .iter()
        .map(|part| {
            std::fs::metadata(run.join(format!("checkpoint/{part}-{epoch}.mpk")))
                .unwrap()
                .len()
        })
        .sum()
}

#[test]
fn a_full_disk_stops_the_run_naming_the_file_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    // How much one checkpoint takes, measured on the real disk.
    let measured = dir.path().join("measured");
    json(&run_ae(&small(&measured, "1")));
    let checkpoint = checkpoint_bytes(&measured, 1);
    // Room for the small files and one checkpoint and a half: the second cannot be written.
    let size = (64 * 1024 + checkpoint * 3 / 2).div_ceil(4096) * 4096;
    let Some(disk) = Tmpfs::mount(&dir.path().join("disk"), size) else {
        println!("skipped: cannot mount a tmpfs here (it needs root)");
        return;
    };
    let run = disk.0.join("run");
    let out = run_ae(&small(&run, "2"));
    let error = error_line(&out);
    assert!(
        error.contains("cannot write")
            && error.contains("checkpoint/")
            && error.contains("No space left")
            && error.contains("--resume` continues from the checkpoint of epoch 1"),
        "{error}"
    );
    // Nothing truncated is left under a final name: every file there is whole.
    assert_eq!(checkpoint_bytes(&run, 1), checkpoint);
    for entry in std::fs::read_dir(run.join("checkpoint")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "a temporary file was left: {name}");
        if name.ends_with("-2.mpk") {
            let whole = measured.join("checkpoint").join(name.replace("-2.", "-1."));
            assert_eq!(
                std::fs::metadata(&path).unwrap().len(),
                std::fs::metadata(whole).unwrap().len(),
                "{name} is whole"
            );
        }
    }
    // With room again, the run resumes from epoch 1 and finishes.
    disk.resize(size * 4);
    let report = json(&run_ae(&with(small(&run, "2"), &["--resume"])));
    assert_eq!(report["summary"]["resumed_from_epoch"], 1);
    ok(&["eval", &path_str(&run), "--limit", "100"]);
}

#[test]
fn damaged_and_mismatched_checkpoints_are_caught_before_resuming() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    json(&run_ae(&small(&run, "2")));

    // A damaged newest checkpoint: resume from the one before, saying so.
    let model_2 = run.join("checkpoint/model-2.mpk");
    let bytes = std::fs::read(&model_2).unwrap();
    std::fs::write(&model_2, &bytes[..bytes.len() / 2]).unwrap();
    let out = run_ae(&with(small(&run, "3"), &["--resume"]));
    let report = json(&out);
    assert_eq!(report["summary"]["resumed_from_epoch"], 1);
    let text = stderr(&out);
    assert!(
        text.contains("checkpoint of epoch 2 is damaged") && text.contains("model-2.mpk"),
        "{text}"
    );

    // Every checkpoint damaged: a clear error, no panic.
    for epoch in 1..=3 {
        let optim = run.join(format!("checkpoint/optim-{epoch}.mpk"));
        if optim.exists() {
            std::fs::write(&optim, b"\x93not a record").unwrap();
        }
    }
    let error = error_line(&run_ae(&with(small(&run, "4"), &["--resume"])));
    assert!(error.contains("no intact checkpoint"), "{error}");

    // Editing the run's config.toml does not change what its checkpoints were trained with.
    let run = dir.path().join("edited");
    json(&run_ae(&small(&run, "1")));
    let config = run.join("config.toml");
    let original = std::fs::read_to_string(&config).unwrap();
    for (from, to, key) in [
        (
            "hidden = [32]",
            "hidden = [32, 32]",
            "model.architecture.hidden",
        ),
        (
            "hidden = [32]",
            "hidden = [64]",
            "model.architecture.hidden",
        ),
        ("latent = 4", "latent = 6", "model.latent"),
    ] {
        assert!(original.contains(from), "{original}");
        std::fs::write(&config, original.replace(from, to)).unwrap();
        let out = ae(&[
            "train",
            "--config",
            &path_str(&config),
            "--run-dir",
            &path_str(&run),
            "--resume",
            "--epochs",
            "2",
            "--plain",
            "--no-pictures",
        ]);
        let error = error_line(&out);
        assert!(
            error.contains("different config") && error.contains(key),
            "{to}: {error}"
        );
    }
}

#[test]
fn absurd_sizes_are_refused_with_their_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("vae");
    let run_s = path_str(&run);
    json(&run_ae(
        &[
            "train",
            "--model",
            "vae",
            "--hidden",
            "16",
            "--latent",
            "2",
            "--limit",
            "100",
            "--batch-size",
            "50",
            "--epochs",
            "1",
            "--data-path",
            &datasets(),
            "--no-pictures",
            "--plain",
            "--run-dir",
            &run_s,
        ]
        .map(String::from),
    ));
    let other = path_str(&dir.path().join("other"));
    let data = datasets();
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data-path",
            &data,
            "--limit",
            "100",
            "--batch-size",
            "50",
            "--run-dir",
            &other,
        ];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    image::GrayImage::new(4, 4)
        .save(images.join("a.png"))
        .unwrap();
    let images_s = path_str(&images);
    let strings = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            train(&["--model", "ae", "--latent", "1000000000"]),
            vec!["parameters", "needs", "available"],
        ),
        (
            train(&["--model", "ae", "--hidden", "1000000000"]),
            vec!["parameters", "needs", "available"],
        ),
        (
            train(&[
                "--model",
                "vae",
                "--objective",
                "iwae",
                "--samples",
                "1000000",
            ]),
            vec!["1000000 draws", "needs"],
        ),
        (
            strings(&[
                "train",
                "--model",
                "ae",
                "--data",
                "image-folder",
                "--data-path",
                &images_s,
                "--image-size",
                "99999x99999",
                "--run-dir",
                &other,
            ]),
            vec!["1x99999x99999", "needs", "available"],
        ),
        (
            strings(&["sample", &run_s, "--count", "10000000"]),
            vec!["too large to draw"],
        ),
        (
            strings(&["traverse", &run_s, "--steps", "10000000"]),
            vec!["too large to draw"],
        ),
        (
            strings(&["sample", &run_s, "--zoom", "1000000"]),
            vec!["too large"],
        ),
        (
            strings(&[
                "eval",
                &run_s,
                "--nll",
                "--rows-per-pass",
                "100000000000000",
            ]),
            vec!["decoding 100000000000000 codes needs"],
        ),
    ];
    for (args, parts) in cases {
        let out = run_ae(&args);
        let error = error_line(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {error}");
        for part in parts {
            assert!(
                error.contains(part),
                "{args:?}: missing {part:?} in {error}"
            );
        }
    }
}

#[test]
fn a_closed_stdout_or_a_non_utf8_path_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // The reader of stdout goes away at once: training finishes and saves its model.
    let run = dir.path().join("piped");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(small(&run, "2"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(run.join("model.mpk").exists() && run.join("summary.json").exists());

    // A run folder and an output whose names are not UTF-8.
    use std::os::unix::ffi::OsStrExt;
    let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"run\xffdir"));
    let mut args = small(&odd, "1");
    args.truncate(args.len() - 1);
    let report = Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(&args)
        .arg(&odd)
        .output()
        .unwrap();
    let report = json(&report);
    assert!(
        report["run"].as_str().unwrap().contains("run\u{fffd}dir"),
        "{report}"
    );
    assert!(odd.join("model.mpk").exists());
    let eval = Command::new(env!("CARGO_BIN_EXE_ae"))
        .arg("eval")
        .arg(&odd)
        .args(["--limit", "50"])
        .output()
        .unwrap();
    assert_eq!(json(&eval)["metrics"]["items"], 50);
    let picture = dir.path().join(std::ffi::OsStr::from_bytes(b"p\xff.png"));
    let out = Command::new(env!("CARGO_BIN_EXE_ae"))
        .arg("reconstruct")
        .arg(&odd)
        .arg("--out")
        .arg(&picture)
        .output()
        .unwrap();
    json(&out);
    assert!(picture.exists());
}

#[test]
fn a_run_stopped_before_its_model_is_finished_by_resume() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let first = json(&run_ae(&small(&run, "2")));
    // As if killed after the last checkpoint, before model.mpk and summary.json.
    std::fs::remove_file(run.join("model.mpk")).unwrap();
    std::fs::remove_file(run.join("summary.json")).unwrap();
    let err = fails(&["eval", &path_str(&run)]);
    assert!(err.contains("no trained model"), "{err}");
    let finished = json(&run_ae(&with(small(&run, "2"), &["--resume"])));
    assert_eq!(finished["summary"]["resumed_from_epoch"], 2);
    assert_eq!(
        finished["summary"]["validation"]["loss"], first["summary"]["validation"]["loss"],
        "the model of the last checkpoint is the model the run ended with"
    );
    ok(&["eval", &path_str(&run), "--limit", "50"]);
    // With its model, the run has its epochs.
    let error = error_line(&run_ae(&with(small(&run, "2"), &["--resume"])));
    assert!(error.contains("already has 2 epochs"), "{error}");
}

/// Waits until `path` exists (or `child` ends, or 5 minutes pass).
fn wait_for(path: &Path, child: &mut std::process::Child) {
    wait_until(child, &format!("{path:?}"), || path.exists());
}

/// Waits until the run folder `run` holds a checkpoint, of whichever epoch: burn keeps only
/// the newest few, so a fast run may already have removed epoch 1's when we look.
fn wait_for_checkpoint(run: &Path, child: &mut std::process::Child) {
    let dir = run.join("checkpoint");
    wait_until(child, "a checkpoint", || {
        std::fs::read_dir(&dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("scheduler-") && name.ends_with(".mpk")
            })
        })
    });
}

/// Waits until `done` (or `child` ends, or 5 minutes pass).
fn wait_until(child: &mut std::process::Child, what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(started.elapsed() < Duration::from_secs(300), "no {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn existing_runs_are_kept_and_a_second_writer_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    json(&run_ae(&small(&run, "1")));
    let model = std::fs::read(run.join("model.mpk")).unwrap();
    let error = error_line(&run_ae(&small(&run, "1")));
    assert!(
        error.contains("already holds a run")
            && error.contains("--resume")
            && error.contains("--overwrite"),
        "{error}"
    );
    assert_eq!(std::fs::read(run.join("model.mpk")).unwrap(), model);
    json(&run_ae(&with(
        small(&run, "1"),
        &["--overwrite", "--seed", "9"],
    )));
    assert_ne!(std::fs::read(run.join("model.mpk")).unwrap(), model);

    // A long run holds the folder; a second writer is refused, naming its process.
    let long = dir.path().join("long");
    let mut args = small(&long, "200");
    args[8] = "3000".into(); // --limit
    let mut first = Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&long.join(".lock"), &mut first);
    let error = error_line(&run_ae(&with(small(&long, "1"), &["--overwrite"])));
    assert!(
        error.contains("is being written by process") && error.contains(&first.id().to_string()),
        "{error}"
    );
    // SIGTERM stops it like Ctrl-C: the model is saved and the status is 130.
    wait_for_checkpoint(&long, &mut first);
    let sent = Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = first.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{text}");
    assert!(
        text.contains("interrupted by SIGTERM") && text.contains("--resume` continues"),
        "{text}"
    );
    assert!(long.join("model.mpk").exists() && !long.join(".lock").exists());
}

#[test]
fn sighup_is_handled_like_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut args = small(&run, "200");
    args[8] = "3000".into(); // --limit
    let mut child = Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_checkpoint(&run, &mut child);
    let sent = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{text}");
    assert!(text.contains("interrupted by SIGHUP"), "{text}");
    args[12] = "3".into(); // --epochs
    let resumed = json(&run_ae(&with(args, &["--resume"])));
    assert!(resumed["summary"]["resumed_from_epoch"].as_u64().unwrap() >= 1);
}
