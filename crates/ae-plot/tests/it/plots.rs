//! The one-call helpers.

use std::time::Instant;

use ae_plot::{
    PlotError, category_color, palette, roc_plot, scatter_by_label, scatter_xy,
    xy_scatter_with_lines,
};

fn count(img: &image::RgbImage, color: image::Rgb<u8>) -> usize {
    img.pixels().filter(|p| **p == color).count()
}

#[test]
fn scatter_by_label_colours_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latent.png");
    let points = [(0.0, 0.0), (1.0, 1.0), (2.0, 0.5), (3.0, 2.0)];
    let labels = [0usize, 1, 1, 3];
    let names = vec!["zero".to_string(), "one".to_string()];
    scatter_by_label(&path, "latent", &points, Some(&labels), Some(&names)).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (800, 600));
    for label in [0, 1, 3] {
        assert!(
            count(&img, category_color(label)) > 0,
            "label {label} missing"
        );
    }
    assert_eq!(count(&img, category_color(2)), 0, "label 2 is not used");
}

#[test]
fn scatter_by_label_length_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.png");
    let points = [(0.0, 0.0); 4];
    let err = scatter_by_label(&path, "t", &points, Some(&[0, 1, 2]), None).unwrap_err();
    assert!(matches!(
        err,
        PlotError::LengthMismatch {
            len: 3,
            points: 4,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "labels (3) and points (4) differ in length"
    );
    assert!(!path.exists());
}

#[test]
fn scatter_by_label_is_fast_for_10k_points() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.png");
    let n = 10_000;
    let points: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let t = i as f64 * 0.37;
            (t.sin() * (1.0 + t % 3.0), t.cos() * (1.0 + t % 5.0))
        })
        .collect();
    let labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let start = Instant::now();
    scatter_by_label(&path, "10k", &points, Some(&labels), None).unwrap();
    let elapsed = start.elapsed();
    // Well under a second in release builds; generous for debug builds.
    assert!(elapsed.as_secs_f64() < 3.0, "took {elapsed:?}");
    assert!(path.exists());
}

#[test]
fn roc_plot_draws_curves_and_diagonal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roc.png");
    let curve: Vec<(f64, f64)> = (0..=20)
        .map(|i| {
            let f = f64::from(i) / 20.0;
            (f, f.sqrt())
        })
        .collect();
    roc_plot(&path, "ROC", &[("AUROC 0.667".to_string(), curve)]).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert!(count(&img, category_color(0)) > 300);
    assert!(
        count(&img, palette::REFERENCE) > 100,
        "chance diagonal missing"
    );
}

#[test]
fn xy_scatter_with_lines_and_scatter_xy_render() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<(f64, f64)> = (0..100)
        .map(|i| {
            let x = f64::from(i) / 25.0 - 2.0;
            (x, x * x)
        })
        .collect();
    let line = vec![(-2.0, 1.3), (2.0, 1.3)];
    let path = dir.path().join("xy.png");
    xy_scatter_with_lines(
        &path,
        "parabola",
        "x",
        "y",
        &data,
        &[("PCA".to_string(), line)],
    )
    .unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert!(count(&img, palette::DATA_GREY) > 100);
    assert!(count(&img, category_color(0)) > 300);

    let path = dir.path().join("s.png");
    scatter_xy(&path, "s", "error", "variance", &data).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert!(count(&img, category_color(0)) > 100);
}

#[test]
fn helpers_report_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("roc.png");
    let err = roc_plot(&path, "ROC", &[]).unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    let err = scatter_xy(&path, "t", "x", "y", &[(1.0, 2.0)]).unwrap_err();
    assert!(matches!(err, PlotError::Io { .. }));
}
