//! The one-call helpers.

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
fn a_dense_scatter_keeps_every_label_colour_and_the_points_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.png");
    // Ten clusters along the x axis, one per label, 1,000 points each.
    let points: Vec<(f64, f64)> = (0..10_000)
        .map(|i| {
            (
                (i % 10) as f64 + 0.01 * (i / 10) as f64 % 0.3,
                (i / 10) as f64 % 7.0,
            )
        })
        .collect();
    let labels: Vec<usize> = (0..10_000).map(|i| i % 10).collect();
    scatter_by_label(&path, "10k", &points, Some(&labels), None).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    // Each label's colour lies left of the next one's: the x axis runs left to right.
    let mean_x = |color| {
        let xs: Vec<u32> = img
            .enumerate_pixels()
            .filter(|(x, _, p)| **p == color && *x < 600)
            .map(|(x, _, _)| x)
            .collect();
        assert!(!xs.is_empty());
        xs.iter().map(|&x| f64::from(x)).sum::<f64>() / xs.len() as f64
    };
    let centres: Vec<f64> = (0..10).map(|l| mean_x(category_color(l))).collect();
    assert!(centres.windows(2).all(|w| w[0] < w[1]), "{centres:?}");
}

#[test]
fn text_is_antialiased_and_greek_letters_are_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let draw = |title: &str| {
        let path = dir.path().join("t.png");
        scatter_xy(&path, title, "x", "y", &[(0.0, 0.0), (1.0, 1.0)]).unwrap();
        image::open(&path).unwrap().to_rgb8()
    };
    // The title band: the caption above the plot.
    let band = |img: &image::RgbImage| -> Vec<image::Rgb<u8>> {
        (0..800)
            .flat_map(|x| (0..40).map(move |y| (x, y)))
            .map(|(x, y)| *img.get_pixel(x, y))
            .collect()
    };
    let sigma = draw("noise σ = 0.5, β = 4");
    let latin = draw("noise s = 0.5, b = 4");
    let blank = draw("");
    assert_ne!(
        band(&sigma),
        band(&latin),
        "σ and β are drawn as themselves"
    );
    assert_ne!(band(&sigma), band(&blank));
    // Antialiased glyphs: many shades between the text colour and the background.
    let shades: std::collections::BTreeSet<[u8; 3]> = band(&sigma).iter().map(|p| p.0).collect();
    assert!(shades.len() > 20, "{} shades", shades.len());
}

#[test]
fn a_chart_saves_as_svg_by_its_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roc.svg");
    let curve = vec![(0.0, 0.0), (0.1, 0.8), (1.0, 1.0)];
    roc_plot(&path, "ROC σ", &[("model (AUROC 0.9)".to_string(), curve)]).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
    assert!(svg.contains("ROC σ") && svg.contains("model (AUROC 0.9)"));
    // The curve, in the first palette colour (#266EB4).
    assert!(svg.to_ascii_uppercase().contains("#266EB4"), "curve colour");
    assert!(!dir.path().join("roc.png").exists());
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
