//! The shape of one input item.

use burn::config::Config;

/// Channels × height × width of one input item; tabular data is 1 × 1 × columns.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub struct InputShape {
    /// Number of channels (1 grey, 3 RGB).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels (or number of columns).
    pub width: usize,
}

impl InputShape {
    /// Number of values in one item.
    pub fn dim(&self) -> usize {
        self.channels * self.height * self.width
    }
}
