//! Ready-made charts used by the command-line tools: one call, one PNG.
//!
//! All of them draw an 800×600 chart (white background, dark grey axes,
//! light grid) and save it atomically to `path`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::chart::{Chart, LegendPosition, Swatch};
use crate::error::PlotError;
use crate::palette::{self, Color, category_color};

/// A marker radius that keeps dense scatters readable.
fn marker_radius(n: usize) -> f64 {
    match n {
        0..=300 => 3.5,
        301..=3000 => 2.5,
        _ => 1.8,
    }
}

/// Scatter of 2-D points (e.g. a latent space), coloured by integer label.
///
/// With `labels`, point `i` gets [`category_color`]`(labels[i])` and the
/// legend lists every label that occurs, named by `label_names[label]` when
/// given (labels past the end of `label_names` are shown as numbers).
/// The legend sits to the right of the plot so it never hides points.
/// Without `labels` every point has the first palette colour and there is no
/// legend. Fails when `labels` and `points` differ in length.
pub fn scatter_by_label(
    path: impl AsRef<Path>,
    title: &str,
    points: &[(f64, f64)],
    labels: Option<&[usize]>,
    label_names: Option<&[String]>,
) -> Result<(), PlotError> {
    let radius = marker_radius(points.len());
    let mut chart = Chart::default().title(title);
    match labels {
        None => {
            chart = chart.scatter(points, category_color(0), radius);
        }
        Some(labels) => {
            if labels.len() != points.len() {
                return Err(PlotError::LengthMismatch {
                    what: "labels",
                    len: labels.len(),
                    points: points.len(),
                });
            }
            let colors: Vec<Color> = labels.iter().map(|&l| category_color(l)).collect();
            chart = chart
                .scatter_colored(points, &colors, radius)?
                .legend_position(LegendPosition::OutsideRight);
            let present: BTreeSet<usize> = labels.iter().copied().collect();
            for label in present {
                let name = label_names
                    .and_then(|names| names.get(label))
                    .cloned()
                    .unwrap_or_else(|| label.to_string());
                chart = chart.legend_entry(name, category_color(label), Swatch::Marker);
            }
        }
    }
    chart.save(path)
}

/// ROC curves on the unit square with the dashed chance diagonal.
///
/// Each curve is `(legend label, points)` with points `(false positive
/// rate, true positive rate)`, drawn in order as a line in its palette
/// colour.
pub fn roc_plot(
    path: impl AsRef<Path>,
    title: &str,
    curves: &[(String, Vec<(f64, f64)>)],
) -> Result<(), PlotError> {
    let mut chart = Chart::default()
        .title(title)
        .x_label("False positive rate")
        .y_label("True positive rate")
        .x_range(0.0, 1.0)
        .y_range(0.0, 1.0)
        .legend_position(LegendPosition::BottomRight)
        .diagonal(palette::REFERENCE);
    for (i, (label, points)) in curves.iter().enumerate() {
        chart = chart.line_series(points, category_color(i), label.clone());
    }
    chart
        .legend_entry("chance", palette::REFERENCE, Swatch::DashedLine)
        .save(path)
}

/// Data points as grey dots with coloured polylines on top (e.g. a noisy
/// parabola with PCA's line and an autoencoder's learned curve).
///
/// Each line is `(legend label, points)`, drawn in the given order; the
/// legend lists the data first, then the lines.
pub fn xy_scatter_with_lines(
    path: impl AsRef<Path>,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64)],
    lines: &[(String, Vec<(f64, f64)>)],
) -> Result<(), PlotError> {
    let mut chart = Chart::default()
        .title(title)
        .x_label(x_label)
        .y_label(y_label)
        .scatter(
            points,
            palette::DATA_GREY,
            marker_radius(points.len()).min(3.0),
        )
        .legend_entry("data", palette::DATA_GREY, Swatch::Marker);
    for (i, (label, line)) in lines.iter().enumerate() {
        chart = chart.line_series(line, category_color(i), label.clone());
    }
    chart.save(path)
}

/// A plain scatter of `points` in the first palette colour with axis
/// captions (e.g. posterior variance against reconstruction error).
pub fn scatter_xy(
    path: impl AsRef<Path>,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64)],
) -> Result<(), PlotError> {
    Chart::default()
        .title(title)
        .x_label(x_label)
        .y_label(y_label)
        .scatter(points, category_color(0), marker_radius(points.len()))
        .save(path)
}
