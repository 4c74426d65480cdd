//! Grids of images: inputs, corrupted inputs, reconstructions, samples, traversals.

use std::path::Path;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};

use crate::error::PlotError;

/// Padding between grid cells, and around the grid, in pixels.
pub const GRID_PAD: u32 = 2;

/// The shape of one image: channels (1 grey, 3 RGB) × height × width, values in CHW order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemShape {
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
}

impl ItemShape {
    /// A shape of `channels` × `height` × `width`.
    pub const fn new(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
        }
    }

    /// Whether items of this shape can be drawn: 1 or 3 channels and at least 2 rows.
    pub fn is_drawable(&self) -> bool {
        self.height >= 2 && self.width >= 1 && matches!(self.channels, 1 | 3)
    }
}

impl std::fmt::Display for ItemShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

/// The pixel size `(width, height)` of a grid of `rows` × `cols` cells of `shape`, each
/// scaled up by `zoom` (saturating at `u32::MAX`; [`check_grid`] refuses such sizes).
pub fn grid_size(rows: usize, cols: usize, shape: ItemShape, zoom: u32) -> (u32, u32) {
    let (width, height) = grid_size_u64(rows, cols, shape, zoom);
    (
        u32::try_from(width).unwrap_or(u32::MAX),
        u32::try_from(height).unwrap_or(u32::MAX),
    )
}

fn grid_size_u64(rows: usize, cols: usize, shape: ItemShape, zoom: u32) -> (u64, u64) {
    let pad = u64::from(GRID_PAD);
    let side = |n: usize, cells: usize| {
        (n as u64)
            .saturating_mul(u64::from(zoom))
            .saturating_add(pad)
            .saturating_mul(cells as u64)
            .saturating_add(pad)
    };
    (side(shape.width, cols), side(shape.height, rows))
}

/// The largest side of a picture, in pixels (PNG readers commonly refuse more).
pub const MAX_SIDE: u64 = 1 << 16;

/// Checks that a grid of `rows` × `cols` cells of `shape` at `zoom` can be drawn: each side
/// at most [`MAX_SIDE`] pixels, and its pixels within the memory available. Returns its size.
pub fn check_grid(
    rows: usize,
    cols: usize,
    shape: ItemShape,
    zoom: u32,
) -> Result<(u32, u32), PlotError> {
    let (width, height) = grid_size_u64(rows, cols, shape, zoom);
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(PlotError::TooLarge { width, height });
    }
    ae_io::memory::check(
        format!("a picture of {width}x{height} pixels"),
        u128::from(width) * u128::from(height) * 3,
    )?;
    Ok((width as u32, height as u32))
}

/// Draws a grid with one row per entry of `rows`, each a list of flat CHW images of `shape`
/// with values in [0, 1] (clamped), scaled up by `zoom`.
pub fn render_grid(
    rows: &[Vec<Vec<f32>>],
    shape: ItemShape,
    zoom: u32,
) -> Result<RgbImage, PlotError> {
    if !shape.is_drawable() {
        return Err(PlotError::NotImages(shape));
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let (width, height) = check_grid(rows.len(), cols, shape, zoom)?;
    let (h, w) = (shape.height as u32 * zoom, shape.width as u32 * zoom);
    let mut canvas = RgbImage::from_pixel(width.max(1), height.max(1), Rgb([40, 40, 40]));
    let plane = shape.height * shape.width;
    for (r, row) in rows.iter().enumerate() {
        for (c, item) in row.iter().enumerate() {
            let x0 = GRID_PAD + c as u32 * (w + GRID_PAD);
            let y0 = GRID_PAD + r as u32 * (h + GRID_PAD);
            for y in 0..h {
                for x in 0..w {
                    let index = (y / zoom) as usize * shape.width + (x / zoom) as usize;
                    let value = |channel: usize| {
                        let v = item.get(channel * plane + index).copied().unwrap_or(0.0);
                        (v.clamp(0.0, 1.0) * 255.0).round() as u8
                    };
                    let pixel = if shape.channels == 3 {
                        Rgb([value(0), value(1), value(2)])
                    } else {
                        let v = value(0);
                        Rgb([v, v, v])
                    };
                    canvas.put_pixel(x0 + x, y0 + y, pixel);
                }
            }
        }
    }
    Ok(canvas)
}

/// Draws a grid (see [`render_grid`]) and writes it to `path` as a PNG, atomically; returns
/// the picture's size `(width, height)` in pixels.
pub fn write_grid(
    path: &Path,
    rows: &[Vec<Vec<f32>>],
    shape: ItemShape,
    zoom: u32,
) -> Result<(u32, u32), PlotError> {
    let canvas = render_grid(rows, shape, zoom)?;
    let bytes = encode_png(&canvas, path)?;
    ae_io::write_atomic(path, &bytes)?;
    Ok(canvas.dimensions())
}

/// `img` encoded as PNG; `path` names the file in an error.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_expected_size_and_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        let shape = ItemShape::new(1, 2, 3);
        let white = vec![1.0; 6];
        let black = vec![0.0; 6];
        let size = write_grid(&path, &[vec![white, black]], shape, 2).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(
            img.dimensions(),
            (2 * (6 + GRID_PAD) + GRID_PAD, 4 + 2 * GRID_PAD)
        );
        assert_eq!(size, img.dimensions());
        assert_eq!(grid_size(1, 2, shape, 2), size);
        assert_eq!(img.get_pixel(GRID_PAD, GRID_PAD).0, [255, 255, 255]);
        assert_eq!(
            img.get_pixel(GRID_PAD + 6 + GRID_PAD, GRID_PAD).0,
            [0, 0, 0]
        );
        let e = write_grid(&path, &[], ItemShape::new(1, 1, 3), 1).unwrap_err();
        assert!(e.to_string().contains("1x1x3"), "{e}");
    }

    #[test]
    fn pictures_too_large_to_draw_are_refused_before_drawing() {
        let shape = ItemShape::new(1, 28, 28);
        let e = check_grid(1, 4, shape, 1_000_000).unwrap_err().to_string();
        assert!(
            e.contains("too large") && e.contains("112000010x28000004"),
            "{e}"
        );
        let e = check_grid(3163, 3163, shape, 3).unwrap_err().to_string();
        assert!(e.contains("272020"), "{e}");
        assert_eq!(
            check_grid(2, 3, shape, 1).unwrap(),
            grid_size(2, 3, shape, 1)
        );
        assert_eq!(grid_size(1, 1, shape, u32::MAX).0, u32::MAX);
    }

    #[test]
    fn colour_items_use_three_planes() {
        let shape = ItemShape::new(3, 2, 2);
        // Red plane full, green and blue empty.
        let red: Vec<f32> = [vec![1.0; 4], vec![0.0; 8]].concat();
        let img = render_grid(&[vec![red]], shape, 1).unwrap();
        assert_eq!(img.get_pixel(GRID_PAD, GRID_PAD).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(0, 0).0, [40, 40, 40]);
    }
}
