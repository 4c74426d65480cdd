//! Colours: a categorical palette for series and labels, plus the fixed
//! colours of the chart furniture.

use image::Rgb;

/// An RGB colour with 8 bits per channel.
pub type Color = Rgb<u8>;

/// Twelve distinct categorical colours, ordered so that the first few are
/// the easiest to tell apart (also for the common colour-vision
/// deficiencies, which is why hue is paired with clearly different
/// lightness).
pub const CATEGORICAL: [Color; 12] = [
    Rgb([38, 110, 180]),  // blue
    Rgb([240, 130, 25]),  // orange
    Rgb([45, 150, 65]),   // green
    Rgb([210, 45, 50]),   // red
    Rgb([145, 100, 190]), // purple
    Rgb([135, 85, 70]),   // brown
    Rgb([225, 115, 190]), // pink
    Rgb([110, 110, 110]), // grey
    Rgb([180, 180, 35]),  // olive
    Rgb([25, 185, 205]),  // cyan
    Rgb([20, 45, 115]),   // navy
    Rgb([235, 190, 0]),   // gold
];

/// The categorical colour for category `i`, cycling through [`CATEGORICAL`].
pub fn category_color(i: usize) -> Color {
    CATEGORICAL[i % CATEGORICAL.len()]
}

/// Page background (white).
pub const BACKGROUND: Color = Rgb([255, 255, 255]);
/// Axis frame and tick marks (dark grey).
pub const AXIS: Color = Rgb([64, 64, 64]);
/// Grid lines (light grey).
pub const GRID: Color = Rgb([230, 230, 230]);
/// Titles, axis labels and tick labels.
pub const TEXT: Color = Rgb([35, 35, 35]);
/// Neutral colour for background data (e.g. raw samples under fitted curves).
pub const DATA_GREY: Color = Rgb([165, 165, 165]);
/// Reference lines such as the chance diagonal of a ROC plot.
pub const REFERENCE: Color = Rgb([130, 130, 130]);
/// Legend box outline.
pub const LEGEND_BORDER: Color = Rgb([200, 200, 200]);
