//! "Nice" axis ticks (1, 2 or 5 × 10^k apart) and compact tick labels.

/// Tick positions for one axis together with their spacing.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    /// Tick values in increasing order, all within the requested range.
    pub values: Vec<f64>,
    /// Distance between neighbouring ticks (1, 2 or 5 × 10^k); 0 when there
    /// are no ticks.
    pub step: f64,
}

impl Ticks {
    /// The tick values formatted with [`format_tick`].
    pub fn labels(&self) -> Vec<String> {
        self.values
            .iter()
            .map(|&v| format_tick(v, self.step))
            .collect()
    }
}

/// `i * mantissa * 10^exp`, computed so that e.g. `3 × 0.2` is exactly `0.6`.
fn tick_value(i: f64, mantissa: f64, exp: i32) -> f64 {
    if exp >= 0 {
        i * mantissa * 10f64.powi(exp)
    } else {
        i * mantissa / 10f64.powi(-exp)
    }
}

/// Chooses the smallest step of the form 1, 2 or 5 × 10^k that puts at most
/// `max_ticks` (at least 2) ticks inside `[min, max]`, and lists those ticks.
///
/// A range that is not finite or has `min >= max` has no ticks.
pub fn ticks(min: f64, max: f64, max_ticks: usize) -> Ticks {
    let none = Ticks {
        values: Vec::new(),
        step: 0.0,
    };
    if !(min.is_finite() && max.is_finite() && min < max) {
        return none;
    }
    let span = max - min;
    if !span.is_finite() {
        return none;
    }
    let max_ticks = max_ticks.max(2) as f64;
    let first = (span / max_ticks).log10().floor() as i32 - 1;
    // At most a handful of decades are ever tried; the bound only guards
    // against pathological floating-point input.
    for exp in first..first.saturating_add(64) {
        for mantissa in [1.0, 2.0, 5.0] {
            let step = tick_value(1.0, mantissa, exp);
            let lo = (min / step - 1e-9).ceil();
            let hi = (max / step + 1e-9).floor();
            let count = hi - lo + 1.0;
            if count <= max_ticks {
                let values = (0..count.max(0.0) as usize)
                    .map(|k| tick_value(lo + k as f64, mantissa, exp))
                    .map(|v| if v == 0.0 { 0.0 } else { v }) // no "-0"
                    .collect();
                return Ticks { values, step };
            }
        }
    }
    none
}

/// Tick values only: see [`ticks`].
pub fn nice_ticks(min: f64, max: f64, max_ticks: usize) -> Vec<f64> {
    ticks(min, max, max_ticks).values
}

/// Decimal exponent of a tick step (`0.2` → -1, `50` → 1).
fn step_exponent(step: f64) -> i32 {
    (step.abs().log10() + 1e-9).floor() as i32
}

/// Formats a tick `value` compactly given the axis `step`: fixed notation
/// with just enough decimals for the step (`0.25`, `-3`, `1500`), switching
/// to scientific notation for very small or very large steps (`1e-4`,
/// `2.5e6`, with zero as plain `0`). Values within a millionth of a step
/// of zero print as zero (never `-0`).
pub fn format_tick(value: f64, step: f64) -> String {
    if !value.is_finite() {
        return format!("{value}");
    }
    let valid_step = step.is_finite() && step > 0.0;
    let zero = value == 0.0 || (valid_step && value.abs() < step * 1e-6);
    let k = if valid_step {
        step_exponent(step)
    } else if zero {
        0
    } else {
        step_exponent(value)
    };
    if (-3..6).contains(&k) {
        let decimals = (-k).max(0) as usize;
        let value = if zero { 0.0 } else { value };
        return format!("{value:.decimals$}");
    }
    if zero {
        return "0".to_string();
    }
    scientific(value, k)
}

/// `value` as `m.mmme±x` with as many mantissa decimals as the step needs,
/// trailing zeros removed.
fn scientific(value: f64, step_exp: i32) -> String {
    let mut exp = value.abs().log10().floor() as i32;
    for _ in 0..2 {
        let decimals = (exp - step_exp).clamp(0, 15) as usize;
        let mantissa = value / 10f64.powi(exp);
        let text = format!("{mantissa:.decimals$}");
        if text.parse::<f64>().map(f64::abs).unwrap_or(0.0) >= 10.0 {
            exp += 1;
            continue;
        }
        let text = if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        };
        return format!("{text}e{exp}");
    }
    format!("{value:e}")
}
