//! Basic statistics: correlations, median and tie-averaged ranks.

use crate::error::{AnalysisError, Result, check_finite, check_same_len};

/// 1-based ranks of `values`, giving tied values the average of their ranks.
pub fn average_ranks(values: &[f64]) -> Result<Vec<f64>> {
    check_finite("values to rank", values)?;
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1 ..= end.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    Ok(ranks)
}

/// Pearson correlation coefficient. Errors when either input is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    check_same_len("x and y", x.len(), y.len())?;
    if x.len() < 2 {
        return Err(AnalysisError::TooFewPoints {
            algorithm: "correlation",
            k: 2,
            n: x.len(),
        });
    }
    check_finite("x", x)?;
    check_finite("y", y)?;
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (da, db) = (a - mx, b - my);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    if sxx == 0.0 || syy == 0.0 {
        return Err(AnalysisError::InvalidParameter {
            name: "correlation input",
            reason: "one of the inputs is constant, so the correlation is undefined".into(),
        });
    }
    Ok((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Spearman rank correlation: Pearson correlation of tie-averaged ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    check_same_len("x and y", x.len(), y.len())?;
    pearson(&average_ranks(x)?, &average_ranks(y)?)
}

/// Median of `values` (mean of the two middle values for even lengths).
/// Reorders the slice in place.
pub fn median(values: &mut [f64]) -> Result<f64> {
    if values.is_empty() {
        return Err(AnalysisError::Empty {
            what: "values for median",
        });
    }
    check_finite("values for median", values)?;
    let n = values.len();
    let mid = n / 2;
    let (lower, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return Ok(upper);
    }
    let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Ok(0.5 * (below + upper))
}
