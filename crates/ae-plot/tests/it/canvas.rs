//! Canvas primitives and PNG output.

use ae_plot::{Canvas, PlotError, Rect, Rgb};

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const RED: Rgb<u8> = Rgb([200, 10, 10]);

#[test]
fn fill_rect_is_clipped() {
    let mut c = Canvas::new(10, 8, WHITE);
    c.fill_rect(-5, -5, 8, 7, RED);
    assert_eq!(c.pixel(0, 0), Some(RED));
    assert_eq!(c.pixel(2, 1), Some(RED));
    assert_eq!(c.pixel(3, 1), Some(WHITE));
    assert_eq!(c.pixel(2, 2), Some(WHITE));
    assert_eq!(c.pixel(10, 0), None);
    c.fill_rect(8, 6, 100, 100, RED);
    assert_eq!(c.pixel(9, 7), Some(RED));
    c.set_clip(Some(Rect::new(0, 0, 2, 2)));
    c.fill_rect(0, 0, 10, 8, Rgb([0, 0, 0]));
    c.set_clip(None);
    assert_eq!(c.pixel(1, 1), Some(Rgb([0, 0, 0])));
    assert_eq!(c.pixel(9, 7), Some(RED));
}

#[test]
fn lines_and_markers() {
    let mut c = Canvas::new(40, 40, WHITE);
    c.line((2, 3), (30, 20), 1, RED);
    assert_eq!(c.pixel(2, 3), Some(RED));
    assert_eq!(c.pixel(30, 20), Some(RED));
    assert_eq!(c.pixel(30, 3), Some(WHITE));
    c.line((5, 35), (35, 35), 3, RED);
    for y in 34..=36 {
        assert_eq!(c.pixel(20, y), Some(RED));
    }
    assert_eq!(c.pixel(20, 33), Some(WHITE));
    assert_eq!(c.pixel(20, 37), Some(WHITE));

    let mut c = Canvas::new(40, 40, WHITE);
    c.circle(20.0, 20.0, 3.0, RED);
    assert_eq!(c.pixel(20, 20), Some(RED));
    assert_eq!(c.pixel(22, 20), Some(RED));
    // The rim is anti-aliased: half covered at the radius, blank beyond.
    let rim = c.pixel(23, 20).unwrap();
    assert!(rim != RED && rim != WHITE, "{rim:?}");
    assert_eq!(c.pixel(24, 20), Some(WHITE));
    c.smooth_line((2.0, 2.0), (2.0, 30.0), 3.0, RED);
    assert_eq!(c.pixel(2, 15), Some(RED));
    assert_eq!(c.pixel(6, 15), Some(WHITE));
    // Non-finite coordinates draw nothing and do not panic.
    c.circle(f64::NAN, 1.0, 3.0, RED);
    c.smooth_line((0.0, f64::INFINITY), (1.0, 1.0), 2.0, RED);
}

#[test]
fn dashed_line_has_gaps() {
    let mut c = Canvas::new(100, 10, WHITE);
    c.dashed_line((0.0, 5.0), (99.0, 5.0), 1.0, 6.0, 4.0, RED);
    let inked = (0..100).filter(|&x| c.pixel(x, 5) != Some(WHITE)).count();
    assert!(inked > 40 && inked < 90, "inked {inked}");
}

#[test]
fn png_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.png");
    let mut c = Canvas::new(33, 17, WHITE);
    c.point(4, 5, RED);
    c.save_png(&path).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (33, 17));
    assert_eq!(*img.get_pixel(4, 5), RED);
    assert_eq!(*img.get_pixel(5, 5), WHITE);
    // Only the final file is left behind (no temporary files).
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("c.png")]);
}

#[test]
fn missing_directory_error_names_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/plot.png");
    let err = Canvas::new(10, 10, WHITE).save_png(&path).unwrap_err();
    assert!(matches!(err, PlotError::Io { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}
