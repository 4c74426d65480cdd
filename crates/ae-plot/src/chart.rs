//! A builder for 2-D charts: scatter layers, polylines, a reference
//! diagonal, nice ticks, grid, titles and a legend.
//!
//! ```no_run
//! use ae_plot::{Chart, palette};
//! # fn main() -> Result<(), ae_plot::PlotError> {
//! Chart::new(800, 600)
//!     .title("Loss")
//!     .x_label("epoch")
//!     .y_label("loss")
//!     .line_series(&[(0.0, 1.0), (1.0, 0.5), (2.0, 0.3)], palette::category_color(0), "train")
//!     .save("/tmp/loss.png")?;
//! # Ok(())
//! # }
//! ```

use std::path::Path;

use crate::canvas::{Canvas, Rect};
use crate::error::PlotError;
use crate::font::{GLYPH_HEIGHT, text_height, text_width, truncate_to_width};
use crate::palette::{self, Color};
use crate::ticks::{Ticks, ticks};

/// Default chart width in pixels.
pub const DEFAULT_WIDTH: u32 = 800;
/// Default chart height in pixels.
pub const DEFAULT_HEIGHT: u32 = 600;

/// Smallest plot area (inside the axes) a chart accepts, in pixels.
const MIN_PLOT_SIDE: i64 = 40;
/// Length of the tick marks outside the frame.
const TICK_LEN: i32 = 5;

/// An axis range `(min, max)` in data units.
pub type AxisRange = (f64, f64);

/// Where the legend box goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegendPosition {
    /// The corner (or edge centre) of the plot area that covers the fewest
    /// data.
    #[default]
    Auto,
    /// Top-left corner of the plot area.
    TopLeft,
    /// Top-right corner of the plot area.
    TopRight,
    /// Bottom-left corner of the plot area.
    BottomLeft,
    /// Bottom-right corner of the plot area.
    BottomRight,
    /// Centred along the top edge of the plot area.
    TopCenter,
    /// Centred along the bottom edge of the plot area.
    BottomCenter,
    /// To the right of the plot area, top-aligned, which narrows the plot
    /// instead of covering data.
    OutsideRight,
}

/// How a legend entry's swatch is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Swatch {
    /// A filled dot, for scatter layers.
    #[default]
    Marker,
    /// A short solid line, for line series.
    Line,
    /// A short dashed line, for reference lines.
    DashedLine,
}

/// One row of the legend: a coloured swatch and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// Text shown next to the swatch.
    pub label: String,
    /// Swatch colour.
    pub color: Color,
    /// Swatch shape.
    pub swatch: Swatch,
}

/// The plot area of a laid-out chart and the data ranges mapped onto it.
///
/// `left..=right` and `top..=bottom` are the pixel columns/rows of the axis
/// frame; `x_range.0` maps to `left`, `x_range.1` to `right`, `y_range.0`
/// to `bottom` and `y_range.1` to `top`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Column of the left axis.
    pub left: i32,
    /// Row of the top edge of the frame.
    pub top: i32,
    /// Column of the right edge of the frame.
    pub right: i32,
    /// Row of the bottom axis.
    pub bottom: i32,
    /// Data values at the left and right edges.
    pub x_range: (f64, f64),
    /// Data values at the bottom and top edges.
    pub y_range: (f64, f64),
}

impl Frame {
    /// Maps a data point to (sub-)pixel coordinates; round them to get the
    /// pixel whose centre is nearest.
    pub fn to_pixel(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0);
        let fy = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0);
        (
            f64::from(self.left) + fx * f64::from(self.right - self.left),
            f64::from(self.bottom) - fy * f64::from(self.bottom - self.top),
        )
    }

    /// Plot-area width in pixels (frame included).
    pub fn width(&self) -> u32 {
        (self.right - self.left + 1).max(0) as u32
    }

    /// Plot-area height in pixels (frame included).
    pub fn height(&self) -> u32 {
        (self.bottom - self.top + 1).max(0) as u32
    }
}

#[derive(Debug, Clone)]
enum PointColors {
    Uniform(Color),
    PerPoint(Vec<Color>),
}

#[derive(Debug, Clone)]
enum Layer {
    Scatter {
        points: Vec<(f64, f64)>,
        colors: PointColors,
        radius: f64,
    },
    Line {
        points: Vec<(f64, f64)>,
        color: Color,
        width: f64,
        dashed: bool,
    },
    Diagonal {
        color: Color,
    },
}

fn finite(p: &(f64, f64)) -> bool {
    p.0.is_finite() && p.1.is_finite()
}

/// A 2-D chart under construction; finish with [`Chart::render`] or
/// [`Chart::save`].
///
/// Non-finite points are skipped everywhere: they are neither drawn nor used
/// for the automatic axis ranges (in line series they break the line). A
/// chart without data still renders its axes over `[0, 1]`.
#[derive(Debug, Clone)]
pub struct Chart {
    width: u32,
    height: u32,
    title: String,
    x_label: String,
    y_label: String,
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
    layers: Vec<Layer>,
    legend: Vec<LegendEntry>,
    legend_position: LegendPosition,
}

impl Default for Chart {
    fn default() -> Self {
        Self::new(DEFAULT_WIDTH, DEFAULT_HEIGHT)
    }
}

/// Spacing of the legend box at a given text scale.
struct LegendMetrics {
    inset: i32,
    pad_x: i32,
    pad_y: i32,
    row_h: i32,
    swatch_w: i32,
    gap: i32,
}

impl LegendMetrics {
    fn new(scale: u32) -> Self {
        let s = scale as i32;
        Self {
            inset: 5 * s,
            pad_x: 4 * s,
            pad_y: 2 * s,
            row_h: 11 * s,
            swatch_w: 12 * s,
            gap: 3 * s,
        }
    }

    /// Rows that fit in a plot area `plot_h` pixels tall.
    fn max_rows(&self, plot_h: u32) -> usize {
        ((plot_h as i32 - 2 * self.inset - 2 * self.pad_y) / self.row_h).max(1) as usize
    }
}

/// A sized legend: the rows to show (`None` is the "... N more" row), their
/// (possibly truncated) texts and the box size in pixels.
struct LegendBox<'a> {
    rows: Vec<Option<&'a LegendEntry>>,
    texts: Vec<String>,
    width: i32,
    height: i32,
}

/// Longest legend text allowed for a legend outside the plot area.
fn outside_text_limit(chart_width: u32) -> u32 {
    chart_width / 4
}

/// Everything needed to draw, computed once per render.
struct Layout {
    frame: Frame,
    x_ticks: Ticks,
    y_ticks: Ticks,
    scale: u32,
    title: String,
    title_scale: u32,
    pad: i32,
}

impl Chart {
    /// An empty `width × height` chart (see also [`Chart::default`], 800×600).
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            x_range: None,
            y_range: None,
            layers: Vec::new(),
            legend: Vec::new(),
            legend_position: LegendPosition::Auto,
        }
    }

    /// Sets the title drawn above the plot.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Sets the x-axis caption.
    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// Sets the y-axis caption (drawn rotated).
    pub fn y_label(mut self, label: impl Into<String>) -> Self {
        self.y_label = label.into();
        self
    }

    /// Fixes the x range instead of using the data extent plus a 5% margin.
    /// Invalid ranges are reported by [`Chart::render`].
    pub fn x_range(mut self, min: f64, max: f64) -> Self {
        self.x_range = Some((min, max));
        self
    }

    /// Fixes the y range instead of using the data extent plus a 5% margin.
    /// Invalid ranges are reported by [`Chart::render`].
    pub fn y_range(mut self, min: f64, max: f64) -> Self {
        self.y_range = Some((min, max));
        self
    }

    /// Chooses the legend corner (default: [`LegendPosition::Auto`]).
    pub fn legend_position(mut self, position: LegendPosition) -> Self {
        self.legend_position = position;
        self
    }

    /// Adds a scatter layer of `points` in one `color`, as discs of `radius`
    /// pixels.
    pub fn scatter(mut self, points: &[(f64, f64)], color: Color, radius: f64) -> Self {
        self.layers.push(Layer::Scatter {
            points: points.iter().copied().filter(finite).collect(),
            colors: PointColors::Uniform(color),
            radius,
        });
        self
    }

    /// Adds a scatter layer with one colour per point; fails when `colors`
    /// and `points` differ in length.
    pub fn scatter_colored(
        mut self,
        points: &[(f64, f64)],
        colors: &[Color],
        radius: f64,
    ) -> Result<Self, PlotError> {
        if colors.len() != points.len() {
            return Err(PlotError::LengthMismatch {
                what: "colors",
                len: colors.len(),
                points: points.len(),
            });
        }
        let (points, colors) = points
            .iter()
            .zip(colors)
            .filter(|(p, _)| finite(p))
            .map(|(p, c)| (*p, *c))
            .unzip();
        self.layers.push(Layer::Scatter {
            points,
            colors: PointColors::PerPoint(colors),
            radius,
        });
        Ok(self)
    }

    /// Adds a solid polyline through `points` (in the given order) and, when
    /// `label` is not empty, a legend entry for it.
    pub fn line_series(
        self,
        points: &[(f64, f64)],
        color: Color,
        label: impl Into<String>,
    ) -> Self {
        self.add_line(points, color, label.into(), false)
    }

    /// Like [`Chart::line_series`] but dashed.
    pub fn dashed_series(
        self,
        points: &[(f64, f64)],
        color: Color,
        label: impl Into<String>,
    ) -> Self {
        self.add_line(points, color, label.into(), true)
    }

    fn add_line(
        mut self,
        points: &[(f64, f64)],
        color: Color,
        label: String,
        dashed: bool,
    ) -> Self {
        self.layers.push(Layer::Line {
            points: points.to_vec(),
            color,
            width: 2.5,
            dashed,
        });
        if !label.is_empty() {
            let swatch = if dashed {
                Swatch::DashedLine
            } else {
                Swatch::Line
            };
            self.legend.push(LegendEntry {
                label,
                color,
                swatch,
            });
        }
        self
    }

    /// Adds the dashed reference line `y = x` across the visible range (the
    /// chance line of a ROC plot). It does not affect automatic ranges.
    pub fn diagonal(mut self, color: Color) -> Self {
        self.layers.push(Layer::Diagonal { color });
        self
    }

    /// Adds a legend row (e.g. one per category of a scatter plot).
    pub fn legend_entry(mut self, label: impl Into<String>, color: Color, swatch: Swatch) -> Self {
        self.legend.push(LegendEntry {
            label: label.into(),
            color,
            swatch,
        });
        self
    }

    /// The legend rows added so far.
    pub fn legend(&self) -> &[LegendEntry] {
        &self.legend
    }

    /// The x and y ranges the chart will use, as `((x_min, x_max), (y_min,
    /// y_max))`.
    pub fn ranges(&self) -> Result<(AxisRange, AxisRange), PlotError> {
        let mut ext_x: Option<AxisRange> = None;
        let mut ext_y: Option<AxisRange> = None;
        let grow = |ext: Option<AxisRange>, v: f64| match ext {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        };
        for (x, y) in self.data_points().filter(finite) {
            ext_x = grow(ext_x, x);
            ext_y = grow(ext_y, y);
        }
        let x = match self.x_range {
            Some((min, max)) => checked_range("x", min, max)?,
            None => auto_range(ext_x),
        };
        let y = match self.y_range {
            Some((min, max)) => checked_range("y", min, max)?,
            None => auto_range(ext_y),
        };
        Ok((x, y))
    }

    fn data_points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.layers
            .iter()
            .flat_map(|layer| match layer {
                Layer::Scatter { points, .. } | Layer::Line { points, .. } => points.as_slice(),
                Layer::Diagonal { .. } => &[],
            })
            .copied()
    }

    /// The plot area and ranges this chart will be drawn with; use
    /// [`Frame::to_pixel`] to find where a data point lands.
    pub fn frame(&self) -> Result<Frame, PlotError> {
        Ok(self.layout()?.frame)
    }

    fn layout(&self) -> Result<Layout, PlotError> {
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        let too_small = || PlotError::TooSmall {
            width: self.width,
            height: self.height,
        };
        if w < 2 * MIN_PLOT_SIDE || h < 2 * MIN_PLOT_SIDE {
            return Err(too_small());
        }
        let (x_range, y_range) = self.ranges()?;
        let scale: u32 = if w >= 480 && h >= 360 { 2 } else { 1 };
        let s = i64::from(scale);
        let pad = 6 * s;
        let cap = i64::from(GLYPH_HEIGHT) * s;
        let line_h = i64::from(text_height(scale));

        // Title: the largest scale that fits, else truncated at scale 1.
        let avail = u32::try_from((w - 8 * pad).max(0)).unwrap_or(0);
        let (title, title_scale) = if self.title.is_empty() {
            (String::new(), scale)
        } else {
            match [scale + 1, scale, 1]
                .into_iter()
                .find(|&ts| text_width(&self.title, ts) <= avail)
            {
                Some(ts) => (self.title.clone(), ts),
                None => (truncate_to_width(&self.title, 1, avail), 1),
            }
        };
        let top = if title.is_empty() {
            2 * pad
        } else {
            pad + i64::from(text_height(title_scale)) + pad / 2
        };
        let mut bottom_margin = i64::from(TICK_LEN) + 2 * s + cap + pad;
        if !self.x_label.is_empty() {
            bottom_margin += line_h + pad / 2;
        }
        let plot_h = h - top - bottom_margin;
        if plot_h < MIN_PLOT_SIDE {
            return Err(too_small());
        }

        // y ticks depend only on the height; their labels set the left margin.
        let y_max = usize::try_from(plot_h / (25 * s)).unwrap_or(2).clamp(2, 12);
        let y_ticks = ticks(y_range.0, y_range.1, y_max);
        let y_label_w = y_ticks
            .labels()
            .iter()
            .map(|l| i64::from(text_width(l, scale)))
            .max()
            .unwrap_or(0);
        let mut left = pad + y_label_w + 2 * s + i64::from(TICK_LEN);
        if !self.y_label.is_empty() {
            left += line_h + pad;
        }

        // x ticks: as many as fit without labels touching; the last label may
        // need a wider right margin.
        let mut right_margin = 3 * pad;
        if self.legend_position == LegendPosition::OutsideRight && !self.legend.is_empty() {
            let m = LegendMetrics::new(scale);
            let rows = m.max_rows(u32::try_from(plot_h).unwrap_or(0));
            let lb = self.legend_box(scale, outside_text_limit(self.width), rows);
            right_margin = right_margin.max(i64::from(3 * m.inset + lb.width));
        }
        let mut x_ticks = Ticks {
            values: Vec::new(),
            step: 0.0,
        };
        for _ in 0..2 {
            let plot_w = w - left - right_margin;
            if plot_w < MIN_PLOT_SIDE {
                return Err(too_small());
            }
            let mut n = usize::try_from(plot_w / (40 * s)).unwrap_or(2).clamp(2, 12);
            loop {
                x_ticks = ticks(x_range.0, x_range.1, n);
                let widest = x_ticks
                    .labels()
                    .iter()
                    .map(|l| text_width(l, scale))
                    .max()
                    .unwrap_or(0);
                let spacing = plot_w as f64 * x_ticks.step / (x_range.1 - x_range.0);
                if n == 2 || f64::from(widest) + 4.0 * s as f64 <= spacing {
                    break;
                }
                n -= 1;
            }
            // Half of the last label hangs past its tick.
            let overhang = match (x_ticks.values.last(), x_ticks.labels().last()) {
                (Some(&v), Some(label)) => {
                    let fx = (v - x_range.0) / (x_range.1 - x_range.0);
                    let from_right = ((1.0 - fx) * plot_w as f64) as i64;
                    i64::from(text_width(label, scale)) / 2 + pad / 2 - from_right
                }
                _ => 0,
            };
            if overhang <= right_margin {
                break;
            }
            right_margin = overhang;
        }

        let frame = Frame {
            left: left as i32,
            top: top as i32,
            right: (w - right_margin - 1) as i32,
            bottom: (h - bottom_margin - 1) as i32,
            x_range,
            y_range,
        };
        Ok(Layout {
            frame,
            x_ticks,
            y_ticks,
            scale,
            title,
            title_scale,
            pad: pad as i32,
        })
    }

    /// Draws the chart onto a new canvas.
    pub fn render(&self) -> Result<Canvas, PlotError> {
        let layout = self.layout()?;
        let mut canvas = Canvas::new(self.width, self.height, palette::BACKGROUND);
        self.draw_grid(&mut canvas, &layout);
        self.draw_frame(&mut canvas, &layout);
        self.draw_layers(&mut canvas, &layout.frame);
        self.draw_text(&mut canvas, &layout);
        self.draw_legend(&mut canvas, &layout);
        Ok(canvas)
    }

    /// Renders the chart and writes it as a PNG to `path` (atomically, see
    /// [`Canvas::save_png`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        self.render()?.save_png(path)
    }

    fn draw_grid(&self, canvas: &mut Canvas, layout: &Layout) {
        let f = &layout.frame;
        for &v in &layout.x_ticks.values {
            let x = f.to_pixel(v, 0.0).0.round() as i32;
            if x > f.left && x < f.right {
                canvas.fill_rect(x, f.top, 1, f.height(), palette::GRID);
            }
        }
        for &v in &layout.y_ticks.values {
            let y = f.to_pixel(0.0, v).1.round() as i32;
            if y > f.top && y < f.bottom {
                canvas.fill_rect(f.left, y, f.width(), 1, palette::GRID);
            }
        }
    }

    fn draw_frame(&self, canvas: &mut Canvas, layout: &Layout) {
        let f = &layout.frame;
        canvas.stroke_rect(
            Rect::new(f.left, f.top, f.width(), f.height()),
            1,
            palette::AXIS,
        );
        let s = layout.scale;
        let cap = (GLYPH_HEIGHT * s) as i32;
        for (&v, label) in layout.x_ticks.values.iter().zip(layout.x_ticks.labels()) {
            let x = f.to_pixel(v, 0.0).0.round() as i32;
            canvas.fill_rect(x, f.bottom + 1, 1, TICK_LEN as u32, palette::AXIS);
            let lw = text_width(&label, s) as i32;
            let lx = (x - lw / 2).clamp(0, (self.width as i32 - lw).max(0));
            canvas.text(
                lx,
                f.bottom + TICK_LEN + 2 * s as i32,
                &label,
                s,
                palette::TEXT,
            );
        }
        for (&v, label) in layout.y_ticks.values.iter().zip(layout.y_ticks.labels()) {
            let y = f.to_pixel(0.0, v).1.round() as i32;
            canvas.fill_rect(f.left - TICK_LEN, y, TICK_LEN as u32, 1, palette::AXIS);
            let lw = text_width(&label, s) as i32;
            let lx = f.left - TICK_LEN - 2 * s as i32 - lw;
            canvas.text(lx, y - cap / 2, &label, s, palette::TEXT);
        }
    }

    fn draw_layers(&self, canvas: &mut Canvas, f: &Frame) {
        // Let markers on the edge of the range show in full, but keep data
        // off the tick labels.
        let margin = 4;
        canvas.set_clip(Some(Rect::new(
            f.left - margin,
            f.top - margin,
            f.width() + 2 * margin as u32,
            f.height() + 2 * margin as u32,
        )));
        for layer in &self.layers {
            match layer {
                Layer::Scatter {
                    points,
                    colors,
                    radius,
                } => {
                    for (i, &(x, y)) in points.iter().enumerate() {
                        let color = match colors {
                            PointColors::Uniform(c) => *c,
                            PointColors::PerPoint(cs) => cs[i],
                        };
                        let (px, py) = f.to_pixel(x, y);
                        canvas.circle(px, py, *radius, color);
                    }
                }
                Layer::Line {
                    points,
                    color,
                    width,
                    dashed,
                } => {
                    let pixels: Vec<(f64, f64)> = points
                        .iter()
                        .map(|&(x, y)| {
                            if finite(&(x, y)) {
                                f.to_pixel(x, y)
                            } else {
                                (f64::NAN, f64::NAN)
                            }
                        })
                        .collect();
                    if *dashed {
                        canvas.dashed_polyline(&pixels, *width, 8.0, 5.0, *color);
                    } else {
                        canvas.polyline(&pixels, *width, *color);
                    }
                }
                Layer::Diagonal { color } => {
                    if let Some((a, b)) = diagonal_span(f) {
                        canvas.dashed_line(
                            f.to_pixel(a, a),
                            f.to_pixel(b, b),
                            1.5,
                            7.0,
                            5.0,
                            *color,
                        );
                    }
                }
            }
        }
        canvas.set_clip(None);
    }

    fn draw_text(&self, canvas: &mut Canvas, layout: &Layout) {
        let f = &layout.frame;
        let s = layout.scale;
        let pad = layout.pad;
        let center_x = (f.left + f.right) / 2;
        if !layout.title.is_empty() {
            let tw = text_width(&layout.title, layout.title_scale) as i32;
            let x = (center_x - tw / 2).clamp(pad, (self.width as i32 - pad - tw).max(0));
            canvas.text(x, pad, &layout.title, layout.title_scale, palette::TEXT);
        }
        let avail_w = self.width.saturating_sub(2 * pad as u32);
        if !self.x_label.is_empty() {
            let label = truncate_to_width(&self.x_label, s, avail_w);
            let lw = text_width(&label, s) as i32;
            let x = (center_x - lw / 2).clamp(0, (self.width as i32 - lw).max(0));
            let y = f.bottom + TICK_LEN + 2 * s as i32 + (GLYPH_HEIGHT * s) as i32 + pad;
            canvas.text(x, y, &label, s, palette::TEXT);
        }
        if !self.y_label.is_empty() {
            let label = truncate_to_width(&self.y_label, s, f.height());
            let lw = text_width(&label, s) as i32;
            let center_y = (f.top + f.bottom) / 2;
            canvas.text_vertical(pad, center_y - lw / 2, &label, s, palette::TEXT);
        }
    }

    /// Sizes the legend box: at most `max_rows` rows (the last one
    /// summarising the rest when there are more entries) and texts truncated
    /// to `max_text` pixels.
    fn legend_box(&self, scale: u32, max_text: u32, max_rows: usize) -> LegendBox<'_> {
        let m = LegendMetrics::new(scale);
        let mut rows: Vec<Option<&LegendEntry>> = self.legend.iter().map(Some).collect();
        let mut more = String::new();
        let max_rows = max_rows.max(1);
        if rows.len() > max_rows {
            let shown = max_rows - 1;
            more = format!("... {} more", rows.len() - shown);
            rows.truncate(shown);
            rows.push(None);
        }
        let texts: Vec<String> = rows
            .iter()
            .map(|r| {
                let raw = r.map_or(more.as_str(), |e| e.label.as_str());
                truncate_to_width(raw, scale, max_text)
            })
            .collect();
        let text_w = texts
            .iter()
            .map(|t| text_width(t, scale))
            .max()
            .unwrap_or(0) as i32;
        LegendBox {
            width: m.pad_x + m.swatch_w + m.gap + text_w + m.pad_x,
            height: 2 * m.pad_y + rows.len() as i32 * m.row_h,
            rows,
            texts,
        }
    }

    fn draw_legend(&self, canvas: &mut Canvas, layout: &Layout) {
        if self.legend.is_empty() {
            return;
        }
        let f = &layout.frame;
        let scale = layout.scale;
        let s = scale as i32;
        let m = LegendMetrics::new(scale);
        let lb = match self.legend_position {
            LegendPosition::OutsideRight => self.legend_box(
                scale,
                outside_text_limit(self.width),
                m.max_rows(f.height()),
            ),
            _ => {
                let max_text =
                    (f.width() as i32 * 2 / 3 - 2 * m.pad_x - m.swatch_w - m.gap).max(6 * s);
                self.legend_box(scale, max_text as u32, m.max_rows(f.height()))
            }
        };
        let (box_w, box_h) = (lb.width, lb.height);
        let corner = |pos: LegendPosition| -> (i32, i32) {
            let l = f.left + m.inset;
            let r = f.right - m.inset - box_w + 1;
            let t = f.top + m.inset;
            let b = f.bottom - m.inset - box_h + 1;
            let c = (f.left + f.right + 1 - box_w) / 2;
            match pos {
                LegendPosition::TopCenter => (c, t),
                LegendPosition::BottomCenter => (c, b),
                LegendPosition::TopLeft => (l, t),
                LegendPosition::BottomLeft => (l, b),
                LegendPosition::BottomRight => (r, b),
                LegendPosition::OutsideRight => (f.right + 1 + 2 * m.inset, f.top),
                LegendPosition::TopRight | LegendPosition::Auto => (r, t),
            }
        };
        let position = match self.legend_position {
            LegendPosition::Auto => self.emptiest_corner(f, box_w, box_h, &corner),
            other => other,
        };
        let (bx, by) = corner(position);
        let rect = Rect::new(bx, by, box_w.max(1) as u32, box_h.max(1) as u32);
        canvas.fill_rect(rect.x, rect.y, rect.width, rect.height, palette::BACKGROUND);
        canvas.stroke_rect(rect, 1, palette::LEGEND_BORDER);

        for (i, (row, text)) in lb.rows.iter().zip(&lb.texts).enumerate() {
            let top = by + m.pad_y + i as i32 * m.row_h;
            let text_y = top + 2 * s;
            let mid_y = f64::from(text_y) + f64::from(GLYPH_HEIGHT as i32 * s - 1) / 2.0;
            let sx = f64::from(bx + m.pad_x);
            if let Some(entry) = row {
                let x_end = sx + f64::from(m.swatch_w - 1);
                match entry.swatch {
                    Swatch::Marker => {
                        let r = 3.5 * f64::from(s) / 2.0 + 1.0;
                        canvas.circle((sx + x_end) / 2.0, mid_y, r, entry.color);
                    }
                    Swatch::Line => {
                        canvas.smooth_line((sx, mid_y), (x_end, mid_y), 2.5, entry.color);
                    }
                    Swatch::DashedLine => {
                        canvas.dashed_line((sx, mid_y), (x_end, mid_y), 1.5, 6.0, 4.0, entry.color);
                    }
                }
            }
            canvas.text(
                bx + m.pad_x + m.swatch_w + m.gap,
                text_y,
                text,
                scale,
                palette::TEXT,
            );
        }
    }

    /// The position whose legend box would hide the fewest data samples
    /// (ties broken in the order top-right, top-left, bottom-right,
    /// bottom-left, top-centre, bottom-centre).
    fn emptiest_corner(
        &self,
        f: &Frame,
        box_w: i32,
        box_h: i32,
        corner: &dyn Fn(LegendPosition) -> (i32, i32),
    ) -> LegendPosition {
        let candidates = [
            LegendPosition::TopRight,
            LegendPosition::TopLeft,
            LegendPosition::BottomRight,
            LegendPosition::BottomLeft,
            LegendPosition::TopCenter,
            LegendPosition::BottomCenter,
        ];
        let rects: Vec<Rect> = candidates
            .iter()
            .map(|&c| {
                let (x, y) = corner(c);
                Rect::new(x, y, box_w.max(1) as u32, box_h.max(1) as u32)
            })
            .collect();
        let mut counts = [0usize; 6];
        let mut count = |p: (f64, f64)| {
            let (x, y) = (p.0.round() as i64, p.1.round() as i64);
            for (n, r) in counts.iter_mut().zip(&rects) {
                if r.contains(x, y) {
                    *n += 1;
                }
            }
        };
        for layer in &self.layers {
            match layer {
                Layer::Scatter { points, .. } => {
                    for &(x, y) in points {
                        count(f.to_pixel(x, y));
                    }
                }
                Layer::Line { points, .. } => {
                    for pair in points.windows(2) {
                        if finite(&pair[0]) && finite(&pair[1]) {
                            sample_segment(
                                f.to_pixel(pair[0].0, pair[0].1),
                                f.to_pixel(pair[1].0, pair[1].1),
                                &mut count,
                            );
                        }
                    }
                }
                Layer::Diagonal { .. } => {
                    if let Some((a, b)) = diagonal_span(f) {
                        sample_segment(f.to_pixel(a, a), f.to_pixel(b, b), &mut count);
                    }
                }
            }
        }
        let best = (0..candidates.len())
            .min_by_key(|&i| (counts[i], i))
            .unwrap_or(0);
        candidates[best]
    }
}

/// Calls `f` on points every few pixels along a segment.
fn sample_segment(a: (f64, f64), b: (f64, f64), f: &mut impl FnMut((f64, f64))) {
    let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
    let n = (len / 3.0).ceil().clamp(1.0, 10_000.0) as usize;
    for k in 0..=n {
        let t = k as f64 / n as f64;
        f((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t));
    }
}

/// The part of `y = x` inside the frame's ranges, as `(from, to)` on x.
fn diagonal_span(f: &Frame) -> Option<(f64, f64)> {
    let a = f.x_range.0.max(f.y_range.0);
    let b = f.x_range.1.min(f.y_range.1);
    (a < b).then_some((a, b))
}

fn checked_range(axis: &'static str, min: f64, max: f64) -> Result<(f64, f64), PlotError> {
    if min.is_finite() && max.is_finite() && min < max && (max - min).is_finite() {
        Ok((min, max))
    } else {
        Err(PlotError::InvalidRange { axis, min, max })
    }
}

/// Data extent plus 5% on each side; degenerate extents get a unit-ish
/// window around the value, no data gives `[0, 1]`.
fn auto_range(extent: Option<(f64, f64)>) -> (f64, f64) {
    let Some((lo, hi)) = extent else {
        return (0.0, 1.0);
    };
    let span = hi - lo;
    let (a, b) = if span > 0.0 {
        (lo - 0.05 * span, hi + 0.05 * span)
    } else {
        let d = if lo != 0.0 { lo.abs() * 0.1 } else { 0.5 };
        (lo - d, hi + d)
    };
    if a.is_finite() && b.is_finite() && a < b {
        (a, b)
    } else if lo < hi && (hi - lo).is_finite() {
        (lo, hi)
    } else {
        (-f64::MAX / 4.0, f64::MAX / 4.0)
    }
}
