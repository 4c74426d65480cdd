//! `ae explore`: its HTTP API on its own (answers, and a 4xx with a message for bad input), a
//! run folder it cannot open refused before it listens, and the page itself driven in headless
//! Chromium by Playwright (`tests/browser/explore.test.mjs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;

/// A running `ae explore`, killed when dropped.
struct Explore {
    child: Child,
    url: String,
    addr: String,
}

impl Explore {
    /// Starts `ae explore RUN --port 0 EXTRA…` and waits for the line that says where it
    /// listens.
    fn start(run: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ae"))
            .arg("explore")
            .arg(run)
            .args(["--port", "0", "--plain"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ae explore starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ae explore prints where it listens");
        let report: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
        let url = report["url"].as_str().expect("a url").to_string();
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        Self { child, url, addr }
    }

    /// `GET path` (or another method): the status and the body.
    fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("an answer");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {response:?}"));
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// `GET path`, which must answer 200 with JSON.
    fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.request("GET", path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// `GET path`, which must fail with `status` and a message containing `needle`.
    fn refuses(&self, path: &str, status: u16, needle: &str) {
        let (got, body) = self.request("GET", path);
        assert_eq!(got, status, "{path}: {body}");
        let message: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        let text = message["error"].as_str().expect("an error message");
        assert!(text.contains(needle), "{path}: {text}");
    }
}

impl Drop for Explore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small MNIST autoencoder with a 2-value code.
fn image_run(dir: &Path) -> PathBuf {
    let run = dir.join("ae");
    train_mnist(
        &run,
        &[
            "--model",
            "ae",
            "--latent",
            "2",
            "--hidden",
            "64",
            "--limit",
            "1000",
            "--epochs",
            "2",
            "--batch-size",
            "50",
        ],
    );
    run
}

fn values(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// The largest difference between two equally long lists.
fn max_gap(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn the_api_decodes_encodes_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = image_run(dir.path());
    let server = Explore::start(&run, &["--limit", "300"]);

    let info = server.json("/api/info");
    assert_eq!(info["latent"], 2);
    assert_eq!(info["items"], 300);
    assert_eq!(info["kind"], "image");
    assert_eq!(info["projection"], "code");
    assert_eq!(info["shape"], serde_json::json!([1, 28, 28]));

    // An item's code decodes to its reconstruction; encoding its values gives its code back.
    let item = server.json("/api/item?index=4");
    let code = values(&item["code"]);
    let query: Vec<String> = code.iter().map(|v| v.to_string()).collect();
    let decoded = server.json(&format!("/api/decode?code={}", query.join("%2C")));
    let (d, r) = (values(&decoded["values"]), values(&item["reconstruction"]));
    assert_eq!(d.len(), 784);
    let gap = max_gap(&d, &r);
    assert!(gap < 1e-4, "decode(code) is {gap} from the reconstruction");
    let input: Vec<String> = values(&item["input"])
        .iter()
        .map(|v| v.to_string())
        .collect();
    let encoded = server.json(&format!("/api/encode?values={}", input.join(",")));
    for (a, b) in values(&encoded["code"]).iter().zip(&code) {
        assert!(
            (a - b).abs() < 1e-4,
            "encode(input) {a} vs the item's code {b}"
        );
    }
    assert_eq!(server.json("/api/encode?index=4")["code"], item["code"]);
    // The map's point of an item decodes to its reconstruction too.
    let map = server.json("/api/map");
    assert_eq!(map["points"].as_array().unwrap().len(), 300);
    let [x, y] = [
        map["points"][4][0].as_f64().unwrap(),
        map["points"][4][1].as_f64().unwrap(),
    ];
    let plane = server.json(&format!("/api/plane?x={x}&y={y}"));
    let gap = max_gap(&values(&plane["values"]), &r);
    assert!(
        gap < 1e-4,
        "the map at item 4 decodes {gap} from its reconstruction"
    );
    // Anomalies come highest first, and are the highest.
    let report = server.json("/api/anomalies?count=5");
    let scores = values(&report["scores"]);
    let top: Vec<f64> = report["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["score"].as_f64().unwrap())
        .collect();
    let mut sorted = scores.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    assert_eq!(top, sorted[..5]);
    // Interpolation ends at the items' reconstructions; samples from a mixture.
    let strip = server.json("/api/interpolate?from=4&to=9&steps=5");
    assert_eq!(strip["items"].as_array().unwrap().len(), 5);
    assert_eq!(
        server.json("/api/sample?source=gmm&count=3")["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let direction = server.json("/api/attribute?from=1&to=7");
    assert_eq!(values(&direction["direction"]).len(), 2);

    // Bad input: a 4xx with a message, and the server keeps answering.
    server.refuses(
        "/api/decode?code=1",
        400,
        "has 1 values, but this model's codes have 2",
    );
    server.refuses("/api/decode?code=NaN,1", 400, "not a finite number");
    server.refuses("/api/decode?code=1,x", 400, "not a number");
    server.refuses("/api/decode", 400, "code is missing");
    server.refuses("/api/item?index=300", 400, "out of range");
    server.refuses("/api/item?index=-1", 400, "item index");
    server.refuses("/api/encode?values=1,2", 400, "has 2 values");
    server.refuses("/api/plane?x=inf&y=0", 400, "finite");
    server.refuses("/api/interpolate?from=0&to=1&steps=1", 400, "steps");
    server.refuses("/api/anomalies?count=100000", 400, "count");
    server.refuses("/api/sample?source=prior", 400, "needs a VAE");
    server.refuses("/api/sample?source=moon", 400, "unknown sample source");
    server.refuses("/api/attribute?from=1&to=42", 400, "no item has label 42");
    server.refuses("/api/decode?code=%zz", 400, "bad escape");
    server.refuses("/api/secrets", 404, "no API endpoint");
    server.refuses("/../../etc/passwd", 404, "no page");
    server.refuses("/config.toml", 404, "no page");
    let (status, _) = server.request("POST", "/api/decode?code=1,2");
    assert_eq!(status, 405);
    // A request addressed to another host (DNS rebinding) is refused.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "GET /api/info HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // The page and its assets.
    let (status, page) = server.request("GET", "/");
    assert_eq!(status, 200);
    assert!(page.contains("<script type=\"module\" src=\"/app.js\">"));
    assert_eq!(server.request("GET", "/app.js").0, 200);
    assert_eq!(server.json("/api/info")["items"], 300);
}

#[test]
fn a_run_it_cannot_open_is_refused_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(&[
        "explore",
        &path_str(&dir.path().join("missing")),
        "--port",
        "0",
    ]);
    assert!(err.contains("missing"), "{err}");
    let run = image_run(dir.path());
    let err = fails(&["explore", &path_str(&run), "--port", "0", "--limit", "1"]);
    assert!(err.contains("limit"), "{err}");
    let out = ae(&[
        "explore",
        &path_str(&run),
        "--port",
        "0",
        "--host",
        "192.0.2.1",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot listen"), "{}", stderr(&out));
}

/// The browser test's folder, with playwright-core installed (`npm ci` there).
fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Whether the browser test can run here; with `AE_REQUIRE_BROWSER_TESTS` set (as `.ci/run`
/// sets it) a missing piece fails the test instead of skipping it.
fn browser_ready() -> bool {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing: Vec<&str> = [
        (
            Path::new(&chromium).exists(),
            "chromium (apt-get install chromium)",
        ),
        (
            Command::new("node").arg("--version").output().is_ok(),
            "node",
        ),
        (
            browser_dir().join("node_modules/playwright-core").exists(),
            "playwright-core (npm ci in crates/ae-cli/tests/browser)",
        ),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, what)| what)
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("AE_REQUIRE_BROWSER_TESTS").is_none(),
        "the browser test needs {}",
        missing.join(", ")
    );
    eprintln!(
        "skipping the browser test of ae explore: it needs {} (.ci/run installs them)",
        missing.join(", ")
    );
    false
}

/// Runs the Playwright script against `server`; returns its measurements.
fn drive(server: &Explore, kind: &str) -> serde_json::Value {
    let shots = std::env::var("AE_EXPLORE_SCREENSHOTS").unwrap_or_default();
    let out = Command::new("node")
        .arg("explore.test.mjs")
        .args([&server.url, kind, &shots])
        .current_dir(browser_dir())
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "the {kind} page failed in Chromium:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    let measured: serde_json::Value = serde_json::from_str(stdout(&out).trim())
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    eprintln!("ae explore in Chromium ({kind}): {measured}");
    measured
}

#[test]
fn the_page_works_in_headless_chromium() {
    if !browser_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = image_run(dir.path());
    let server = Explore::start(&run, &["--limit", "500"]);
    let measured = drive(&server, "image");
    assert!(measured["decode_round_trip_ms"]["median"].as_f64().unwrap() > 0.0);

    // A table: the page draws bars, and its sliders and anomaly tab work the same way.
    let table = dir.path().join("wine");
    let wine = Path::new(&datasets()).join("tabular/wine.csv");
    ok(&[
        "train",
        "--model",
        "ae",
        "--data",
        "csv",
        "--data-path",
        &path_str(&wine),
        "--label-column",
        "label",
        "--run-dir",
        &path_str(&table),
        "--plain",
        "--no-pictures",
        "--latent",
        "4",
        "--epochs",
        "2",
    ]);
    let server = Explore::start(&table, &[]);
    assert_eq!(server.json("/api/info")["kind"], "table");
    assert_eq!(server.json("/api/info")["projection"], "pca");
    drive(&server, "table");
}
