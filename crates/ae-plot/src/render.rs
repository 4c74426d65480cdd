//! Charts drawn with [`plotters`]: one description ([`Spec`]), drawn on a bitmap for PNG or
//! as SVG, with an embedded DejaVu Sans (antialiased, with Greek letters such as σ and β).

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, RGBAColor};

use crate::error::PlotError;
use crate::grid::encode_png;
use crate::palette::{self, Color as Rgb8};

/// Width of every chart, in pixels.
pub const WIDTH: u32 = 800;
/// Height of every chart, in pixels.
pub const HEIGHT: u32 = 600;
/// Width of the legend strip right of a chart whose legend sits outside.
const OUTSIDE_LEGEND: u32 = 150;

/// DejaVu Sans (Bitstream Vera licence, see `assets/LICENSE-DejaVu`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// The family name the charts ask for.
const FAMILY: &str = "sans-serif";

static SVG_BESIDE: AtomicBool = AtomicBool::new(false);

/// Whether every chart saved as PNG also gets an SVG beside it (same name, `.svg`); off by
/// default. `ae --svg` turns it on for its process.
pub fn set_svg_beside(on: bool) {
    SVG_BESIDE.store(on, Ordering::Relaxed);
}

/// See [`set_svg_beside`].
pub fn svg_beside() -> bool {
    SVG_BESIDE.load(Ordering::Relaxed)
}

/// Registers the embedded font with plotters, once.
fn font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "the embedded DejaVu Sans font cannot be read".to_string())
        })
        .clone()
        .map_err(PlotError::Draw)
}

fn rgb(c: Rgb8) -> RGBColor {
    RGBColor(c.0[0], c.0[1], c.0[2])
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Swatch {
    /// A filled marker (a scatter).
    Marker,
    /// A solid line.
    Line,
    /// A dashed line.
    DashedLine,
}

/// Where the legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegendPosition {
    /// Inside the plot, upper right.
    Upper,
    /// Inside the plot, lower right.
    Lower,
    /// In a strip right of the plot, so that it hides no point.
    Outside,
}

/// A scatter: points, and one colour for all or one per point.
pub(crate) struct Scatter<'a> {
    pub points: &'a [(f64, f64)],
    pub colors: Vec<Rgb8>,
    pub radius: f64,
}

/// An axis range, `(min, max)`.
type Range = (f64, f64);

/// What a chart shows.
pub(crate) struct Spec<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    pub scatters: Vec<Scatter<'a>>,
    pub lines: Vec<(&'a [(f64, f64)], Rgb8)>,
    /// A dashed line from the lower left to the upper right corner (a ROC's chance line).
    pub diagonal: Option<Rgb8>,
    pub legend: Vec<(String, Rgb8, Swatch)>,
    pub legend_position: LegendPosition,
}

impl<'a> Spec<'a> {
    pub fn new(title: &'a str) -> Self {
        Spec {
            title,
            x_label: "",
            y_label: "",
            x_range: None,
            y_range: None,
            scatters: Vec::new(),
            lines: Vec::new(),
            diagonal: None,
            legend: Vec::new(),
            legend_position: LegendPosition::Upper,
        }
    }

    /// The axis ranges: the explicit ones, else the finite data's extent with a 5% margin.
    pub fn ranges(&self) -> Result<(Range, Range), PlotError> {
        let points = self
            .scatters
            .iter()
            .flat_map(|s| s.points.iter())
            .chain(self.lines.iter().flat_map(|l| l.0.iter()))
            .filter(|(x, y)| x.is_finite() && y.is_finite());
        let (mut lo_x, mut hi_x, mut lo_y, mut hi_y) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for &(x, y) in points {
            (lo_x, hi_x) = (lo_x.min(x), hi_x.max(x));
            (lo_y, hi_y) = (lo_y.min(y), hi_y.max(y));
        }
        let fit = |axis: &'static str, explicit: Option<(f64, f64)>, lo: f64, hi: f64| {
            if let Some((min, max)) = explicit {
                if !(min.is_finite() && max.is_finite() && min < max) {
                    return Err(PlotError::InvalidRange { axis, min, max });
                }
                return Ok((min, max));
            }
            if lo > hi {
                return Ok((0.0, 1.0));
            }
            let span = hi - lo;
            if span <= f64::EPSILON * lo.abs().max(1.0) {
                return Ok((lo - 0.5, hi + 0.5));
            }
            Ok((lo - 0.05 * span, hi + 0.05 * span))
        };
        Ok((
            fit("x", self.x_range, lo_x, hi_x)?,
            fit("y", self.y_range, lo_y, hi_y)?,
        ))
    }

    /// Saves the chart as PNG at `path` (and an SVG beside it when asked for), or as SVG
    /// alone when `path` ends in `.svg`. Each file is written atomically.
    pub fn save(&self, path: &Path) -> Result<(), PlotError> {
        let is_svg = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        if is_svg {
            return self.save_svg(path);
        }
        let image = self.render()?;
        let bytes = encode_png(&image, path)?;
        ae_io::write_atomic(path, &bytes)?;
        if svg_beside() {
            self.save_svg(&path.with_extension("svg"))?;
        }
        Ok(())
    }

    /// The chart as an RGB image of [`WIDTH`] × [`HEIGHT`].
    pub fn render(&self) -> Result<RgbImage, PlotError> {
        font()?;
        let mut buffer = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buffer, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(draw_error)?;
        }
        RgbImage::from_raw(WIDTH, HEIGHT, buffer)
            .ok_or_else(|| PlotError::Draw("the chart's pixel buffer has the wrong size".into()))
    }

    /// The chart as an SVG document.
    pub fn render_svg(&self) -> Result<String, PlotError> {
        font()?;
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(draw_error)?;
        }
        Ok(text)
    }

    fn save_svg(&self, path: &Path) -> Result<(), PlotError> {
        let text = self.render_svg()?;
        Ok(ae_io::write_atomic(path, text.as_bytes())?)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let ((x0, x1), (y0, y1)) = self.ranges()?;
        root.fill(&rgb(palette::BACKGROUND)).map_err(draw_error)?;
        let outside = self.legend_position == LegendPosition::Outside && !self.legend.is_empty();
        let (plot_area, legend_area) = if outside {
            let (plot, legend) = root.split_horizontally(WIDTH - OUTSIDE_LEGEND);
            (plot, Some(legend))
        } else {
            (root.clone(), None)
        };
        let text = rgb(palette::TEXT);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(self.title, (FAMILY, 22).into_font().color(&text))
            .margin(14)
            .x_label_area_size(if self.x_label.is_empty() { 30 } else { 50 })
            .y_label_area_size(if self.y_label.is_empty() { 50 } else { 70 })
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .axis_desc_style((FAMILY, 16).into_font().color(&text))
            .label_style((FAMILY, 13).into_font().color(&text))
            .bold_line_style(rgb(palette::GRID))
            .max_light_lines(0)
            .axis_style(rgb(palette::AXIS))
            .draw()
            .map_err(draw_error)?;
        if let Some(color) = self.diagonal {
            chart
                .draw_series(DashedLineSeries::new(
                    [(x0.max(y0), x0.max(y0)), (x1.min(y1), x1.min(y1))],
                    8,
                    6,
                    rgb(color).stroke_width(2),
                ))
                .map_err(draw_error)?;
        }
        for scatter in &self.scatters {
            let radius = scatter.radius;
            let fallback = scatter
                .colors
                .first()
                .copied()
                .unwrap_or(palette::category_color(0));
            chart
                .draw_series(
                    scatter
                        .points
                        .iter()
                        .enumerate()
                        .filter(|(_, (x, y))| x.is_finite() && y.is_finite())
                        .map(|(i, &p)| {
                            let color = scatter.colors.get(i).copied().unwrap_or(fallback);
                            Circle::new(p, radius, rgb(color).filled())
                        }),
                )
                .map_err(draw_error)?;
        }
        for (points, color) in &self.lines {
            chart
                .draw_series(LineSeries::new(
                    points
                        .iter()
                        .copied()
                        .filter(|(x, y)| x.is_finite() && y.is_finite()),
                    rgb(*color).stroke_width(2),
                ))
                .map_err(draw_error)?;
        }
        match legend_area {
            Some(area) => draw_outside_legend(&area, &self.legend)?,
            None if !self.legend.is_empty() => {
                for (label, color, swatch) in &self.legend {
                    let style = rgb(*color);
                    let series = chart
                        .draw_series(std::iter::empty::<Circle<(f64, f64), f64>>())
                        .map_err(draw_error)?
                        .label(label.as_str());
                    match swatch {
                        Swatch::Marker => {
                            series
                                .legend(move |(x, y)| Circle::new((x + 9, y), 4.0, style.filled()));
                        }
                        Swatch::Line => {
                            series.legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 18, y)], style.stroke_width(2))
                            });
                        }
                        Swatch::DashedLine => {
                            series.legend(move |(x, y)| {
                                EmptyElement::at((x, y))
                                    + PathElement::new(vec![(0, 0), (6, 0)], style.stroke_width(2))
                                    + PathElement::new(
                                        vec![(11, 0), (18, 0)],
                                        style.stroke_width(2),
                                    )
                            });
                        }
                    }
                }
                chart
                    .configure_series_labels()
                    .position(match self.legend_position {
                        LegendPosition::Lower => SeriesLabelPosition::LowerRight,
                        _ => SeriesLabelPosition::UpperRight,
                    })
                    .label_font((FAMILY, 14).into_font().color(&text))
                    .background_style(RGBAColor(255, 255, 255, 0.85))
                    .border_style(rgb(palette::LEGEND_BORDER))
                    .draw()
                    .map_err(draw_error)?;
            }
            None => {}
        }
        Ok(())
    }
}

/// A legend in its own strip: a marker and a name per entry, from the top.
fn draw_outside_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Rgb8, Swatch)],
) -> Result<(), PlotError> {
    let font = (FAMILY, 14).into_font().color(&rgb(palette::TEXT));
    for (i, (label, color, _)) in entries.iter().enumerate() {
        let y = 50 + 22 * i as i32;
        area.draw(&Circle::new((14, y), 5.0, rgb(*color).filled()))
            .map_err(draw_error)?;
        let name: String = label.chars().take(18).collect();
        area.draw(&Text::new(name, (26, y - 8), font.clone()))
            .map_err(draw_error)?;
    }
    Ok(())
}

fn draw_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Draw(e.to_string())
}
