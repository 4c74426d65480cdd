//! Ranking metrics for anomaly scores (higher score = more anomalous).

use crate::error::{AnalysisError, Result, check_finite, check_same_len};
use crate::stats::average_ranks;

fn class_counts(is_anomaly: &[bool]) -> (usize, usize) {
    let positives = is_anomaly.iter().filter(|&&a| a).count();
    (positives, is_anomaly.len() - positives)
}

fn validate(metric: &'static str, scores: &[f64], is_anomaly: &[bool]) -> Result<(usize, usize)> {
    check_same_len("scores and anomaly flags", scores.len(), is_anomaly.len())?;
    check_finite("anomaly scores", scores)?;
    let (positives, negatives) = class_counts(is_anomaly);
    if positives == 0 || negatives == 0 {
        return Err(AnalysisError::SingleClass {
            metric,
            positives,
            negatives,
        });
    }
    Ok((positives, negatives))
}

/// Indices sorted by decreasing score.
fn descending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Calls `visit(tp, fp, threshold)` after each group of tied scores, walking
/// thresholds from the highest score down.
fn for_each_threshold(
    scores: &[f64],
    is_anomaly: &[bool],
    mut visit: impl FnMut(usize, usize, f64),
) {
    let order = descending(scores);
    let (mut tp, mut fp) = (0, 0);
    let mut k = 0;
    while k < order.len() {
        let threshold = scores[order[k]];
        while k < order.len() && scores[order[k]] == threshold {
            if is_anomaly[order[k]] {
                tp += 1;
            } else {
                fp += 1;
            }
            k += 1;
        }
        visit(tp, fp, threshold);
    }
}

/// Area under the ROC curve, as the Mann–Whitney statistic: the probability
/// that a random anomaly scores above a random normal sample, ties counting
/// one half. Errors when either class is absent.
pub fn auroc(scores: &[f64], is_anomaly: &[bool]) -> Result<f64> {
    let (positives, negatives) = validate("AUROC", scores, is_anomaly)?;
    let ranks = average_ranks(scores)?;
    let rank_sum: f64 = ranks
        .iter()
        .zip(is_anomaly)
        .filter(|(_, a)| **a)
        .map(|(r, _)| r)
        .sum();
    let p = positives as f64;
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// Average precision (area under the precision–recall curve, step-wise as in
/// scikit-learn): `Σ (R_k − R_{k−1}) P_k` over distinct score thresholds.
/// Needs at least one anomaly; with no normal samples it is 1.0.
pub fn average_precision(scores: &[f64], is_anomaly: &[bool]) -> Result<f64> {
    check_same_len("scores and anomaly flags", scores.len(), is_anomaly.len())?;
    check_finite("anomaly scores", scores)?;
    let (positives, negatives) = class_counts(is_anomaly);
    if positives == 0 {
        return Err(AnalysisError::SingleClass {
            metric: "average precision",
            positives,
            negatives,
        });
    }
    let mut ap = 0.0;
    let mut previous_recall = 0.0;
    for_each_threshold(scores, is_anomaly, |tp, fp, _| {
        let recall = tp as f64 / positives as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - previous_recall) * precision;
        previous_recall = recall;
    });
    Ok(ap)
}

/// ROC curve as `(false positive rate, true positive rate, threshold)`
/// points, a sample being flagged when `score >= threshold`. Starts at
/// `(0, 0, +inf)` and has one point per distinct score, ending at `(1, 1)`.
pub fn roc_curve(scores: &[f64], is_anomaly: &[bool]) -> Result<Vec<(f64, f64, f64)>> {
    let (positives, negatives) = validate("ROC curve", scores, is_anomaly)?;
    let mut curve = vec![(0.0, 0.0, f64::INFINITY)];
    for_each_threshold(scores, is_anomaly, |tp, fp, threshold| {
        curve.push((
            fp as f64 / negatives as f64,
            tp as f64 / positives as f64,
            threshold,
        ));
    });
    Ok(curve)
}

/// The `p`-th percentile (`0 <= p <= 100`) with linear interpolation between
/// order statistics (NumPy's default `linear` method).
pub fn percentile(scores: &[f64], p: f64) -> Result<f64> {
    if scores.is_empty() {
        return Err(AnalysisError::Empty {
            what: "scores for percentile",
        });
    }
    if !(0.0..=100.0).contains(&p) {
        return Err(AnalysisError::InvalidParameter {
            name: "percentile",
            reason: format!("must lie in [0, 100], got {p}"),
        });
    }
    check_finite("scores for percentile", scores)?;
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = position.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = position - lo as f64;
    Ok(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Threshold flagging about `fraction` of the samples as anomalies: the
/// `100 (1 − fraction)` percentile of `scores`; flag `score > threshold`.
pub fn threshold_for_contamination(scores: &[f64], fraction: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(AnalysisError::InvalidParameter {
            name: "contamination fraction",
            reason: format!("must lie in [0, 1], got {fraction}"),
        });
    }
    percentile(scores, 100.0 * (1.0 - fraction))
}
