//! Nice tick generation and tick-label formatting.

use ae_plot::ticks::{format_tick, nice_ticks, ticks};

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "got {got:?}, want {want:?}");
    }
}

#[test]
fn unit_interval_steps_by_fifths() {
    let t = ticks(0.0, 1.0, 6);
    assert!((t.step - 0.2).abs() < 1e-15, "step {}", t.step);
    assert_close(&t.values, &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    // More room gives tenths, less gives halves.
    assert_eq!(nice_ticks(0.0, 1.0, 11).len(), 11);
    assert_close(&nice_ticks(0.0, 1.0, 3), &[0.0, 0.5, 1.0]);
}

#[test]
fn awkward_range_uses_twos_or_fives() {
    let t = ticks(-3.7, 12.1, 8);
    assert!(t.step == 2.0 || t.step == 5.0, "step {}", t.step);
    assert_close(&t.values, &[-2.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
    let t = ticks(-3.7, 12.1, 4);
    assert_eq!(t.step, 5.0);
    assert_close(&t.values, &[0.0, 5.0, 10.0]);
}

#[test]
fn ticks_are_nice_inside_and_bounded() {
    let ranges = [
        (0.0, 1.0),
        (-3.7, 12.1),
        (0.95, 1.05),
        (1e-5, 4e-4),
        (-2.5e7, 3.1e7),
        (123.4, 123.9),
        (-1.0, -0.001),
    ];
    for &(lo, hi) in &ranges {
        for max in 5..=12 {
            let t = ticks(lo, hi, max);
            assert!(
                t.values.len() >= 2 && t.values.len() <= max,
                "{lo}..{hi} max {max}: {t:?}"
            );
            let exp = t.step.log10().floor();
            let mantissa = t.step / 10f64.powf(exp);
            assert!(
                [1.0, 2.0, 5.0].iter().any(|m| (m - mantissa).abs() < 1e-9),
                "step {} is not 1/2/5 x 10^k",
                t.step
            );
            for w in t.values.windows(2) {
                assert!((w[1] - w[0] - t.step).abs() < t.step * 1e-9);
            }
            for &v in &t.values {
                assert!(v >= lo - t.step * 1e-9 && v <= hi + t.step * 1e-9);
                let k = v / t.step;
                assert!(
                    (k - k.round()).abs() < 1e-6,
                    "{v} not a multiple of {}",
                    t.step
                );
            }
        }
    }
}

#[test]
fn degenerate_ranges_have_no_ticks() {
    assert!(nice_ticks(1.0, 1.0, 6).is_empty());
    assert!(nice_ticks(2.0, 1.0, 6).is_empty());
    assert!(nice_ticks(f64::NAN, 1.0, 6).is_empty());
    assert!(nice_ticks(0.0, f64::INFINITY, 6).is_empty());
}

#[test]
fn labels_are_compact() {
    assert_eq!(format_tick(0.25, 0.05), "0.25");
    assert_eq!(format_tick(0.6000000000000001, 0.2), "0.6");
    assert_eq!(format_tick(0.0, 0.2), "0.0");
    assert_eq!(format_tick(-1e-17, 0.2), "0.0");
    assert_eq!(format_tick(-3.0, 1.0), "-3");
    assert_eq!(format_tick(1500.0, 500.0), "1500");
    assert_eq!(format_tick(0.002, 0.001), "0.002");
    assert_eq!(format_tick(0.001, 0.0001), "1e-3");
    assert_eq!(format_tick(0.0003, 0.0001), "3e-4");
    assert_eq!(format_tick(0.0015, 0.0005), "1.5e-3");
    assert_eq!(format_tick(0.0, 0.0001), "0");
    assert_eq!(format_tick(3e6, 1e6), "3e6");
    assert_eq!(format_tick(-2.5e7, 5e6), "-2.5e7");
}
