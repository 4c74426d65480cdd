//! PNG grids of images: inputs, corrupted inputs, reconstructions and samples.

use std::path::Path;

use ae_models::InputShape;
use image::{Rgb, RgbImage};

use crate::TrainError;

const PAD: u32 = 2;

/// Writes a grid with one row per entry of `rows`, each a list of flat CHW images of `shape`
/// with values in [0, 1] (clamped), scaled up by `zoom`.
pub fn write_grid(
    path: &Path,
    rows: &[Vec<Vec<f32>>],
    shape: InputShape,
    zoom: u32,
) -> Result<(), TrainError> {
    if shape.height < 2 || !matches!(shape.channels, 1 | 3) {
        return Err(TrainError::Invalid(format!(
            "cannot draw items of shape {}x{}x{} as images",
            shape.channels, shape.height, shape.width
        )));
    }
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0) as u32;
    let (h, w) = (shape.height as u32 * zoom, shape.width as u32 * zoom);
    let width = cols * (w + PAD) + PAD;
    let height = rows.len() as u32 * (h + PAD) + PAD;
    let mut canvas = RgbImage::from_pixel(width.max(1), height.max(1), Rgb([40, 40, 40]));
    let plane = shape.height * shape.width;
    for (r, row) in rows.iter().enumerate() {
        for (c, item) in row.iter().enumerate() {
            let x0 = PAD + c as u32 * (w + PAD);
            let y0 = PAD + r as u32 * (h + PAD);
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
    let tmp = crate::run_dir::temporary_path(path);
    canvas
        .save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(|e| TrainError::Record {
            path: path.to_path_buf(),
            message: format!("cannot write PNG: {e}"),
        })?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_expected_size_and_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        let shape = InputShape::new(1, 2, 3);
        let white = vec![1.0; 6];
        let black = vec![0.0; 6];
        write_grid(&path, &[vec![white, black]], shape, 2).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (2 * (6 + PAD) + PAD, 4 + 2 * PAD));
        assert_eq!(img.get_pixel(PAD, PAD).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(PAD + 6 + PAD, PAD).0, [0, 0, 0]);
        assert!(write_grid(&path, &[], InputShape::new(1, 1, 3), 1).is_err());
    }
}
