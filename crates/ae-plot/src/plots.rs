//! Ready-made charts used by the command-line tools: one call, one PNG (and an SVG beside it
//! on request, see [`set_svg_beside`](crate::set_svg_beside); a path ending in `.svg` writes
//! SVG alone).
//!
//! All of them draw an 800×600 chart (white background, dark grey axes, light grid) with
//! [`plotters`] and save it atomically to `path`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::PlotError;
use crate::palette::{self, Color, category_color};
use crate::render::{LegendPosition, Scatter, Spec, Swatch};

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
///
/// ```no_run
/// let points = [(0.0, 0.0), (1.0, 2.0), (2.0, 1.0)];
/// ae_plot::scatter_by_label("latent.png", "Codes", &points, Some(&[0, 1, 1]), None)?;
/// # Ok::<(), ae_plot::PlotError>(())
/// ```
pub fn scatter_by_label(
    path: impl AsRef<Path>,
    title: &str,
    points: &[(f64, f64)],
    labels: Option<&[usize]>,
    label_names: Option<&[String]>,
) -> Result<(), PlotError> {
    let radius = marker_radius(points.len());
    let mut spec = Spec::new(title);
    match labels {
        None => spec.scatters.push(Scatter {
            points,
            colors: vec![category_color(0)],
            radius,
        }),
        Some(labels) => {
            if labels.len() != points.len() {
                return Err(PlotError::LengthMismatch {
                    what: "labels",
                    len: labels.len(),
                    points: points.len(),
                });
            }
            spec.scatters.push(Scatter {
                points,
                colors: labels.iter().map(|&l| category_color(l)).collect(),
                radius,
            });
            spec.legend_position = LegendPosition::Outside;
            let present: BTreeSet<usize> = labels.iter().copied().collect();
            for label in present {
                let name = label_names
                    .and_then(|names| names.get(label))
                    .cloned()
                    .unwrap_or_else(|| label.to_string());
                spec.legend
                    .push((name, category_color(label), Swatch::Marker));
            }
        }
    }
    spec.save(path.as_ref())
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
    let mut spec = Spec::new(title);
    spec.x_label = "False positive rate";
    spec.y_label = "True positive rate";
    spec.x_range = Some((0.0, 1.0));
    spec.y_range = Some((0.0, 1.0));
    spec.legend_position = LegendPosition::Lower;
    spec.diagonal = Some(palette::REFERENCE);
    for (i, (label, points)) in curves.iter().enumerate() {
        spec.lines.push((points, category_color(i)));
        spec.legend
            .push((label.clone(), category_color(i), Swatch::Line));
    }
    spec.legend
        .push(("chance".into(), palette::REFERENCE, Swatch::DashedLine));
    spec.save(path.as_ref())
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
    let mut spec = Spec::new(title);
    spec.x_label = x_label;
    spec.y_label = y_label;
    spec.scatters.push(Scatter {
        points,
        colors: vec![palette::DATA_GREY],
        radius: marker_radius(points.len()).min(3.0),
    });
    spec.legend
        .push(("data".into(), palette::DATA_GREY, Swatch::Marker));
    for (i, (label, line)) in lines.iter().enumerate() {
        spec.lines.push((line, category_color(i)));
        spec.legend
            .push((label.clone(), category_color(i), Swatch::Line));
    }
    spec.save(path.as_ref())
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
    let mut spec = Spec::new(title);
    spec.x_label = x_label;
    spec.y_label = y_label;
    let color: Color = category_color(0);
    spec.scatters.push(Scatter {
        points,
        colors: vec![color],
        radius: marker_radius(points.len()),
    });
    spec.save(path.as_ref())
}
