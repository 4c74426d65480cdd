//! Image quality measures (PSNR, SSIM), an image's total variation, and a 3x3 median filter.
//!
//! Images are flat `f32` buffers in channel-major `C x H x W` order, the
//! layout of a `[C, H, W]` tensor.

use crate::error::{AnalysisError, Result, check_same_len};

/// Side of the SSIM Gaussian window.
pub const SSIM_WINDOW: usize = 11;
/// Standard deviation of the SSIM Gaussian window.
pub const SSIM_SIGMA: f64 = 1.5;
/// SSIM luminance stabiliser constant `K1`.
pub const SSIM_K1: f64 = 0.01;
/// SSIM contrast stabiliser constant `K2`.
pub const SSIM_K2: f64 = 0.03;

fn check_max_value(max_value: f64) -> Result<()> {
    if max_value.is_finite() && max_value > 0.0 {
        Ok(())
    } else {
        Err(AnalysisError::InvalidParameter {
            name: "max_value",
            reason: format!("must be positive and finite, got {max_value}"),
        })
    }
}

fn check_image(
    what: &'static str,
    len: usize,
    channels: usize,
    height: usize,
    width: usize,
) -> Result<()> {
    let expected = channels
        .checked_mul(height)
        .and_then(|x| x.checked_mul(width))
        .ok_or_else(|| AnalysisError::InvalidParameter {
            name: "image shape",
            reason: format!("{channels}x{height}x{width} overflows usize"),
        })?;
    if expected == 0 {
        return Err(AnalysisError::Empty { what });
    }
    if len != expected {
        return Err(AnalysisError::ShapeMismatch {
            what,
            shape: format!("{channels}x{height}x{width}"),
            expected,
            got: len,
        });
    }
    Ok(())
}

/// Anisotropic total variation: the sum of absolute differences between vertically and
/// horizontally neighbouring values, over every channel. A measure of how much edge an image
/// has: 0 for a constant image, 4v for one interior pixel of value v on a zero background.
pub fn total_variation(image: &[f32], channels: usize, height: usize, width: usize) -> Result<f64> {
    check_image(
        "image for total variation",
        image.len(),
        channels,
        height,
        width,
    )?;
    let mut sum = 0.0f64;
    for plane in image.chunks_exact(height * width) {
        for y in 0..height {
            let row = &plane[y * width..(y + 1) * width];
            sum += row
                .windows(2)
                .map(|p| f64::from((p[1] - p[0]).abs()))
                .sum::<f64>();
            if y + 1 < height {
                let below = &plane[(y + 1) * width..(y + 2) * width];
                sum += row
                    .iter()
                    .zip(below)
                    .map(|(a, b)| f64::from((b - a).abs()))
                    .sum::<f64>();
            }
        }
    }
    Ok(sum)
}

/// Peak signal-to-noise ratio in dB, `10 log10(max² / MSE)`; infinite when
/// the inputs are identical.
pub fn psnr(a: &[f32], b: &[f32], max_value: f64) -> Result<f64> {
    check_same_len("images for PSNR", a.len(), b.len())?;
    if a.is_empty() {
        return Err(AnalysisError::Empty {
            what: "images for PSNR",
        });
    }
    check_max_value(max_value)?;
    let mut sum = 0.0f64;
    for (index, (&x, &y)) in a.iter().zip(b).enumerate() {
        if !x.is_finite() || !y.is_finite() {
            let value = if x.is_finite() { y } else { x };
            return Err(AnalysisError::NonFinite {
                what: "image for PSNR",
                index,
                value: f64::from(value),
            });
        }
        let d = f64::from(x) - f64::from(y);
        sum += d * d;
    }
    let mse = sum / a.len() as f64;
    if mse == 0.0 {
        return Ok(f64::INFINITY);
    }
    Ok(10.0 * (max_value * max_value / mse).log10())
}

/// Normalised 1-D Gaussian weights of the SSIM window.
fn gaussian_window() -> [f64; SSIM_WINDOW] {
    let mut w = [0.0; SSIM_WINDOW];
    let centre = (SSIM_WINDOW / 2) as f64;
    for (i, x) in w.iter_mut().enumerate() {
        let t = i as f64 - centre;
        *x = (-t * t / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let total: f64 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= total);
    w
}

/// Separable "valid" filtering of one `height x width` plane.
fn filter_valid(plane: &[f64], height: usize, width: usize, w: &[f64; SSIM_WINDOW]) -> Vec<f64> {
    let (oh, ow) = (height + 1 - SSIM_WINDOW, width + 1 - SSIM_WINDOW);
    let mut horizontal = vec![0.0; height * ow];
    for y in 0..height {
        let row = &plane[y * width..(y + 1) * width];
        for x in 0..ow {
            horizontal[y * ow + x] = row[x..x + SSIM_WINDOW]
                .iter()
                .zip(w)
                .map(|(p, g)| p * g)
                .sum();
        }
    }
    let mut out = vec![0.0; oh * ow];
    for y in 0..oh {
        for (j, g) in w.iter().enumerate() {
            let src = &horizontal[(y + j) * ow..(y + j + 1) * ow];
            for (o, s) in out[y * ow..(y + 1) * ow].iter_mut().zip(src) {
                *o += g * s;
            }
        }
    }
    out
}

/// Mean structural similarity (Wang et al. 2004) between two images.
///
/// Uses the standard 11x11 Gaussian window (σ = 1.5), `K1 = 0.01`,
/// `K2 = 0.03`, `L = max_value`, population (biased) local statistics, and
/// averages the SSIM map over the valid region (no padding) and over channels.
/// Images must be at least 11x11; smaller images are an error.
pub fn ssim(
    a: &[f32],
    b: &[f32],
    channels: usize,
    height: usize,
    width: usize,
    max_value: f64,
) -> Result<f64> {
    check_image("first image for SSIM", a.len(), channels, height, width)?;
    check_image("second image for SSIM", b.len(), channels, height, width)?;
    check_max_value(max_value)?;
    if height < SSIM_WINDOW || width < SSIM_WINDOW {
        return Err(AnalysisError::ImageTooSmall {
            what: "SSIM",
            min: SSIM_WINDOW,
            height,
            width,
        });
    }
    for (what, img) in [("first image for SSIM", a), ("second image for SSIM", b)] {
        if let Some(index) = img.iter().position(|v| !v.is_finite()) {
            return Err(AnalysisError::NonFinite {
                what,
                index,
                value: f64::from(img[index]),
            });
        }
    }
    let c1 = (SSIM_K1 * max_value).powi(2);
    let c2 = (SSIM_K2 * max_value).powi(2);
    let w = gaussian_window();
    let plane = height * width;
    let mut total = 0.0;
    let mut count = 0usize;
    for c in 0..channels {
        let x: Vec<f64> = a[c * plane..(c + 1) * plane]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let y: Vec<f64> = b[c * plane..(c + 1) * plane]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let xx: Vec<f64> = x.iter().map(|v| v * v).collect();
        let yy: Vec<f64> = y.iter().map(|v| v * v).collect();
        let xy: Vec<f64> = x.iter().zip(&y).map(|(p, q)| p * q).collect();
        let mu_x = filter_valid(&x, height, width, &w);
        let mu_y = filter_valid(&y, height, width, &w);
        let e_xx = filter_valid(&xx, height, width, &w);
        let e_yy = filter_valid(&yy, height, width, &w);
        let e_xy = filter_valid(&xy, height, width, &w);
        for i in 0..mu_x.len() {
            let (mx, my) = (mu_x[i], mu_y[i]);
            let var_x = e_xx[i] - mx * mx;
            let var_y = e_yy[i] - my * my;
            let cov = e_xy[i] - mx * my;
            let num = (2.0 * mx * my + c1) * (2.0 * cov + c2);
            let den = (mx * mx + my * my + c1) * (var_x + var_y + c2);
            total += num / den;
            count += 1;
        }
    }
    Ok(total / count as f64)
}

/// 3x3 median filter applied to each channel independently; pixels outside
/// the image replicate the nearest edge pixel. Output has the input's shape.
pub fn median_filter_3x3(
    image: &[f32],
    channels: usize,
    height: usize,
    width: usize,
) -> Result<Vec<f32>> {
    check_image(
        "image for median filter",
        image.len(),
        channels,
        height,
        width,
    )?;
    let plane = height * width;
    let mut out = vec![0.0f32; image.len()];
    let mut window = [0.0f32; 9];
    for c in 0..channels {
        let src = &image[c * plane..(c + 1) * plane];
        let dst = &mut out[c * plane..(c + 1) * plane];
        for y in 0..height {
            for x in 0..width {
                let mut k = 0;
                for dy in [-1isize, 0, 1] {
                    let yy = (y as isize + dy).clamp(0, height as isize - 1) as usize;
                    for dx in [-1isize, 0, 1] {
                        let xx = (x as isize + dx).clamp(0, width as isize - 1) as usize;
                        window[k] = src[yy * width + xx];
                        k += 1;
                    }
                }
                window.sort_unstable_by(f32::total_cmp);
                dst[y * width + x] = window[4];
            }
        }
    }
    Ok(out)
}
