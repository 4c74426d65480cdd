//! A small raster canvas over [`image::RgbImage`] with clipped primitives.
//!
//! Integer coordinates name pixels; in the floating-point primitives
//! ([`Canvas::smooth_line`], [`Canvas::circle`], ...) the centre of pixel
//! `(i, j)` sits at `(i as f64, j as f64)`, so rounding a coordinate gives the
//! pixel it lands in. Everything is clipped to the canvas and to the current
//! clip rectangle ([`Canvas::set_clip`]).

use std::path::Path;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbImage};

use crate::error::PlotError;
use crate::font;
use crate::palette::Color;

/// An axis-aligned rectangle of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: i32,
    /// Top row.
    pub y: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Rect {
    /// A rectangle from its top-left corner and size.
    pub fn new(x: i32, y: i32, width: u32, height: u32) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    /// One past the right-most column.
    pub fn right(&self) -> i64 {
        i64::from(self.x) + i64::from(self.width)
    }

    /// One past the bottom row.
    pub fn bottom(&self) -> i64 {
        i64::from(self.y) + i64::from(self.height)
    }

    /// Whether pixel `(x, y)` lies inside.
    pub fn contains(&self, x: i64, y: i64) -> bool {
        x >= i64::from(self.x) && x < self.right() && y >= i64::from(self.y) && y < self.bottom()
    }
}

/// Marker shapes for [`Canvas::marker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Marker {
    /// A filled, anti-aliased disc.
    #[default]
    Circle,
    /// A filled square.
    Square,
    /// A diagonal cross.
    Cross,
}

/// Clip bounds in pixels: `[x0, x1) × [y0, y1)`, always inside the image.
#[derive(Debug, Clone, Copy)]
struct Clip {
    x0: i64,
    y0: i64,
    x1: i64,
    y1: i64,
}

/// An RGB raster with drawing primitives and atomic PNG output.
#[derive(Debug, Clone)]
pub struct Canvas {
    img: RgbImage,
    clip: Clip,
}

impl Canvas {
    /// A `width × height` canvas filled with `background`.
    pub fn new(width: u32, height: u32, background: Color) -> Self {
        Self::from_image(RgbImage::from_pixel(width, height, background))
    }

    /// Wraps an existing image.
    pub fn from_image(img: RgbImage) -> Self {
        let clip = Clip {
            x0: 0,
            y0: 0,
            x1: i64::from(img.width()),
            y1: i64::from(img.height()),
        };
        Self { img, clip }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.img.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.img.height()
    }

    /// The underlying image.
    pub fn image(&self) -> &RgbImage {
        &self.img
    }

    /// Consumes the canvas and returns the image.
    pub fn into_image(self) -> RgbImage {
        self.img
    }

    /// The colour of pixel `(x, y)`, or `None` outside the canvas.
    pub fn pixel(&self, x: i32, y: i32) -> Option<Color> {
        let (x, y) = (u32::try_from(x).ok()?, u32::try_from(y).ok()?);
        self.img.get_pixel_checked(x, y).copied()
    }

    /// Restricts all further drawing to `rect` (intersected with the
    /// canvas); `None` lifts the restriction.
    pub fn set_clip(&mut self, rect: Option<Rect>) {
        let (w, h) = (i64::from(self.img.width()), i64::from(self.img.height()));
        self.clip = match rect {
            None => Clip {
                x0: 0,
                y0: 0,
                x1: w,
                y1: h,
            },
            Some(r) => Clip {
                x0: i64::from(r.x).clamp(0, w),
                y0: i64::from(r.y).clamp(0, h),
                x1: r.right().clamp(0, w),
                y1: r.bottom().clamp(0, h),
            },
        };
    }

    fn visible(&self, x: i64, y: i64) -> bool {
        x >= self.clip.x0 && x < self.clip.x1 && y >= self.clip.y0 && y < self.clip.y1
    }

    /// Sets pixel `(x, y)` to `color` (ignored outside the clip area).
    pub fn point(&mut self, x: i32, y: i32, color: Color) {
        self.put(i64::from(x), i64::from(y), color);
    }

    fn put(&mut self, x: i64, y: i64, color: Color) {
        if self.visible(x, y) {
            // `visible` keeps (x, y) inside the image, so the casts are lossless.
            self.img.put_pixel(x as u32, y as u32, color);
        }
    }

    /// Mixes `color` into pixel `(x, y)` with opacity `alpha` in `[0, 1]`.
    fn blend(&mut self, x: i64, y: i64, color: Color, alpha: f64) {
        if alpha <= 0.0 || !self.visible(x, y) {
            return;
        }
        if alpha >= 1.0 {
            self.img.put_pixel(x as u32, y as u32, color);
            return;
        }
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for (dst, &src) in p.0.iter_mut().zip(color.0.iter()) {
            let d = f64::from(*dst);
            *dst = (d + (f64::from(src) - d) * alpha).round().clamp(0.0, 255.0) as u8;
        }
    }

    /// Fills the `width × height` rectangle whose top-left pixel is `(x, y)`.
    pub fn fill_rect(&mut self, x: i32, y: i32, width: u32, height: u32, color: Color) {
        let x0 = i64::from(x).max(self.clip.x0);
        let y0 = i64::from(y).max(self.clip.y0);
        let x1 = (i64::from(x) + i64::from(width)).min(self.clip.x1);
        let y1 = (i64::from(y) + i64::from(height)).min(self.clip.y1);
        for py in y0..y1 {
            for px in x0..x1 {
                self.img.put_pixel(px as u32, py as u32, color);
            }
        }
    }

    /// Outlines `rect` with a border `thickness` pixels wide, drawn inside
    /// the rectangle.
    pub fn stroke_rect(&mut self, rect: Rect, thickness: u32, color: Color) {
        let Rect {
            x,
            y,
            width,
            height,
        } = rect;
        let t = thickness.max(1);
        let tw = t.min(width);
        let th = t.min(height);
        self.fill_rect(x, y, width, th, color);
        self.fill_rect(x, y + height as i32 - th as i32, width, th, color);
        self.fill_rect(x, y, tw, height, color);
        self.fill_rect(x + width as i32 - tw as i32, y, tw, height, color);
    }

    /// A straight line from `from` to `to` (Bresenham), `thickness` pixels
    /// wide (a square brush centred on the line).
    pub fn line(&mut self, from: (i32, i32), to: (i32, i32), thickness: u32, color: Color) {
        let t = i64::from(thickness.max(1));
        let lo = -(t - 1) / 2;
        let hi = t / 2;
        let (mut x, mut y) = (i64::from(from.0), i64::from(from.1));
        let (x1, y1) = (i64::from(to.0), i64::from(to.1));
        let dx = (x1 - x).abs();
        let dy = -(y1 - y).abs();
        let sx = if x < x1 { 1 } else { -1 };
        let sy = if y < y1 { 1 } else { -1 };
        let mut err = dx + dy;
        loop {
            for by in lo..=hi {
                for bx in lo..=hi {
                    self.put(x + bx, y + by, color);
                }
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// An anti-aliased line with round caps, `width` pixels wide.
    /// Non-finite coordinates draw nothing.
    pub fn smooth_line(&mut self, from: (f64, f64), to: (f64, f64), width: f64, color: Color) {
        let (x0, y0) = from;
        let (x1, y1) = to;
        if ![x0, y0, x1, y1, width].iter().all(|v| v.is_finite()) {
            return;
        }
        let r = (width / 2.0).max(0.5);
        let reach = r + 1.0;
        let bx0 = ((x0.min(x1) - reach).floor() as i64).max(self.clip.x0);
        let bx1 = ((x0.max(x1) + reach).ceil() as i64).min(self.clip.x1 - 1);
        let by0 = ((y0.min(y1) - reach).floor() as i64).max(self.clip.y0);
        let by1 = ((y0.max(y1) + reach).ceil() as i64).min(self.clip.y1 - 1);
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = dx * dx + dy * dy;
        for py in by0..=by1 {
            for px in bx0..=bx1 {
                let (qx, qy) = (px as f64 - x0, py as f64 - y0);
                let t = if len2 > 0.0 {
                    ((qx * dx + qy * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (ex, ey) = (qx - t * dx, qy - t * dy);
                let d = (ex * ex + ey * ey).sqrt();
                self.blend(px, py, color, (r + 0.5 - d).clamp(0.0, 1.0));
            }
        }
    }

    /// Anti-aliased segments joining consecutive `points`; a non-finite
    /// point breaks the line into separate pieces.
    pub fn polyline(&mut self, points: &[(f64, f64)], width: f64, color: Color) {
        for pair in points.windows(2) {
            self.smooth_line(pair[0], pair[1], width, color);
        }
    }

    /// Like [`Canvas::polyline`] but dashed: `dash` pixels drawn, then `gap`
    /// pixels skipped, with the pattern continuing across vertices.
    pub fn dashed_polyline(
        &mut self,
        points: &[(f64, f64)],
        width: f64,
        dash: f64,
        gap: f64,
        color: Color,
    ) {
        let dash = if dash.is_finite() { dash.max(1.0) } else { 1.0 };
        let gap = if gap.is_finite() { gap.max(0.0) } else { 0.0 };
        let period = dash + gap;
        // Distance already travelled inside the current dash/gap period.
        let mut phase = 0.0f64;
        for pair in points.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            if ![x0, y0, x1, y1].iter().all(|v| v.is_finite()) {
                continue;
            }
            let len = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt();
            if len == 0.0 {
                continue;
            }
            let mut s = 0.0;
            while s < len {
                let in_dash = phase < dash;
                let step = if in_dash {
                    dash - phase
                } else {
                    period - phase
                };
                let e = (s + step).min(len);
                if in_dash {
                    let a = (x0 + (x1 - x0) * s / len, y0 + (y1 - y0) * s / len);
                    let b = (x0 + (x1 - x0) * e / len, y0 + (y1 - y0) * e / len);
                    self.smooth_line(a, b, width, color);
                }
                phase = (phase + (e - s)) % period;
                s = e;
            }
        }
    }

    /// A dashed anti-aliased line from `from` to `to`.
    pub fn dashed_line(
        &mut self,
        from: (f64, f64),
        to: (f64, f64),
        width: f64,
        dash: f64,
        gap: f64,
        color: Color,
    ) {
        self.dashed_polyline(&[from, to], width, dash, gap, color);
    }

    /// A filled, anti-aliased disc of `radius` pixels centred on `(cx, cy)`.
    pub fn circle(&mut self, cx: f64, cy: f64, radius: f64, color: Color) {
        if !(cx.is_finite() && cy.is_finite() && radius.is_finite()) {
            return;
        }
        let r = radius.max(0.5);
        let reach = r + 1.0;
        let x0 = ((cx - reach).floor() as i64).max(self.clip.x0);
        let x1 = ((cx + reach).ceil() as i64).min(self.clip.x1 - 1);
        let y0 = ((cy - reach).floor() as i64).max(self.clip.y0);
        let y1 = ((cy + reach).ceil() as i64).min(self.clip.y1 - 1);
        for py in y0..=y1 {
            for px in x0..=x1 {
                let d = ((px as f64 - cx).powi(2) + (py as f64 - cy).powi(2)).sqrt();
                self.blend(px, py, color, (r + 0.5 - d).clamp(0.0, 1.0));
            }
        }
    }

    /// A data marker of the given `shape` and `radius` centred on `(cx, cy)`.
    pub fn marker(&mut self, cx: f64, cy: f64, radius: f64, shape: Marker, color: Color) {
        if !(cx.is_finite() && cy.is_finite() && radius.is_finite()) {
            return;
        }
        match shape {
            Marker::Circle => self.circle(cx, cy, radius, color),
            Marker::Square => {
                let side = (2.0 * radius).round().max(1.0);
                let x = (cx - side / 2.0 + 0.5).floor() as i32;
                let y = (cy - side / 2.0 + 0.5).floor() as i32;
                self.fill_rect(x, y, side as u32, side as u32, color);
            }
            Marker::Cross => {
                let w = (radius / 2.0).max(1.0);
                self.smooth_line(
                    (cx - radius, cy - radius),
                    (cx + radius, cy + radius),
                    w,
                    color,
                );
                self.smooth_line(
                    (cx - radius, cy + radius),
                    (cx + radius, cy - radius),
                    w,
                    color,
                );
            }
        }
    }

    /// Writes `text` with the built-in font; `(x, y)` is the top-left corner
    /// of the first character cell. See [`font::text_width`] for its extent.
    pub fn text(&mut self, x: i32, y: i32, text: &str, scale: u32, color: Color) {
        let (x, y) = (i64::from(x), i64::from(y));
        font::for_each_pixel(text, scale, |dx, dy| {
            self.put(x + i64::from(dx), y + i64::from(dy), color);
        });
    }

    /// Writes `text` rotated a quarter turn anticlockwise (reading bottom to
    /// top), as used for y-axis labels. `(x, y)` is the top-left corner of the
    /// rotated box, which is [`font::text_height`] wide and
    /// [`font::text_width`] tall.
    pub fn text_vertical(&mut self, x: i32, y: i32, text: &str, scale: u32, color: Color) {
        let (x, y) = (i64::from(x), i64::from(y));
        let w = i64::from(font::text_width(text, scale));
        font::for_each_pixel(text, scale, |dx, dy| {
            self.put(x + i64::from(dy), y + w - 1 - i64::from(dx), color);
        });
    }

    /// Writes the canvas as a PNG to `path` atomically (through [`ae_io`]): readers never
    /// see a half-written file. Errors name `path`.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        let path = path.as_ref();
        let bytes = encode_png(&self.img, path)?;
        ae_io::write_atomic(path, &bytes).map_err(PlotError::from)
    }
}

/// The PNG encoding of `img`; errors name `path`, the file it is meant for.
pub(crate) fn encode_png(img: &RgbImage, path: &Path) -> Result<Vec<u8>, PlotError> {
    let mut bytes = Vec::new();
    PngEncoder::new(&mut bytes)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|source| PlotError::Encode {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(bytes)
}
