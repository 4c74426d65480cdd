//! Renders one example of every chart helper, and one as SVG.
//!
//! `cargo run -p ae-plot --example gallery [-- OUT_DIR]` (default
//! `/tmp/ae-plot-examples`).

use std::time::Instant;

use ae_plot::plots;

/// A tiny deterministic generator so the example needs no extra crates.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/ae-plot-examples".to_string());
    std::fs::create_dir_all(&out)?;
    let mut rng = Lcg(42);

    // 10 000 latent points in 10 clusters.
    let n = 10_000;
    let mut points = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = i % 10;
        let angle = label as f64 / 10.0 * std::f64::consts::TAU;
        points.push((
            3.0 * angle.cos() + 0.6 * rng.normal(),
            3.0 * angle.sin() + 0.6 * rng.normal(),
        ));
        labels.push(label);
    }
    let names: Vec<String> = [
        "T-shirt",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let start = Instant::now();
    plots::scatter_by_label(
        format!("{out}/scatter_by_label.png"),
        "Latent space (10k points)",
        &points,
        Some(&labels),
        Some(&names),
    )?;
    println!("scatter_by_label: {:?}", start.elapsed());

    // ROC curves: a good and a mediocre detector.
    let curve = |power: f64| -> Vec<(f64, f64)> {
        (0..=100)
            .map(|i| {
                let fpr = i as f64 / 100.0;
                (fpr, fpr.powf(power))
            })
            .collect()
    };
    plots::roc_plot(
        format!("{out}/roc.png"),
        "Anomaly detection ROC",
        &[
            ("AUROC 0.973".to_string(), curve(0.03)),
            ("AUROC 0.750".to_string(), curve(1.0 / 3.0)),
        ],
    )?;

    // Noisy parabola with a PCA line and a learned curve.
    let data: Vec<(f64, f64)> = (0..400)
        .map(|_| {
            let x = rng.uniform() * 4.0 - 2.0;
            (x, x * x + 0.3 * rng.normal())
        })
        .collect();
    let pca: Vec<(f64, f64)> = vec![(-2.2, 1.33), (2.2, 1.33)];
    let ae: Vec<(f64, f64)> = (0..=60)
        .map(|i| {
            let x = -2.1 + 4.2 * i as f64 / 60.0;
            (x, 0.97 * x * x + 0.02)
        })
        .collect();
    plots::xy_scatter_with_lines(
        format!("{out}/xy_scatter_with_lines.png"),
        "Parabola: PCA vs autoencoder",
        "x1",
        "x2",
        &data,
        &[
            ("PCA (1 component)".to_string(), pca),
            ("autoencoder".to_string(), ae),
        ],
    )?;

    // Small-valued axis to exercise scientific tick labels.
    let var: Vec<(f64, f64)> = (0..2000)
        .map(|_| {
            let e = rng.uniform() * 0.004;
            (e, 2e-4 + e * 0.05 + 1e-5 * rng.normal())
        })
        .collect();
    plots::scatter_xy(
        format!("{out}/scatter_xy.png"),
        "Posterior variance vs reconstruction error",
        "reconstruction error (MSE)",
        "mean posterior variance",
        &var,
    )?;

    // Greek letters, and the same chart as SVG.
    plots::roc_plot(
        format!("{out}/roc.svg"),
        "β-VAE (β = 4), noise σ = 0.5",
        &[("AUROC 0.973".to_string(), curve(0.03))],
    )?;
    println!("wrote examples to {out}");
    Ok(())
}
