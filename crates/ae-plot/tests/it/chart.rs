//! Chart layout, data placement, ranges and errors.

use ae_plot::palette::{self, AXIS};
use ae_plot::{Chart, LegendPosition, PlotError, Rgb, Swatch};

const MAGENTA: Rgb<u8> = Rgb([201, 0, 187]);

#[test]
fn scatter_pixels_land_at_mapped_coordinates() {
    let points = [
        (0.1, 0.2),
        (0.5, 0.5),
        (0.9, 0.75),
        (0.33, 0.95),
        (0.7, 0.05),
    ];
    let radius = 3.0;
    let chart = Chart::new(640, 480)
        .x_range(0.0, 1.0)
        .y_range(0.0, 1.0)
        .scatter(&points, MAGENTA, radius);
    let frame = chart.frame().unwrap();
    let img = chart.render().unwrap().into_image();

    let centres: Vec<(f64, f64)> = points.iter().map(|&(x, y)| frame.to_pixel(x, y)).collect();
    for &(px, py) in &centres {
        let (x, y) = (px.round() as u32, py.round() as u32);
        assert_eq!(*img.get_pixel(x, y), MAGENTA, "no marker at ({x}, {y})");
    }
    // Fully covered marker pixels are exactly those within `radius - 0.5`
    // of a mapped centre (the rim is anti-aliased).
    let inside = |x: u32, y: u32| {
        centres
            .iter()
            .any(|&(cx, cy)| (f64::from(x) - cx).hypot(f64::from(y) - cy) <= radius - 0.5 + 1e-9)
    };
    let mut count = 0;
    for (x, y, p) in img.enumerate_pixels() {
        assert_eq!(*p == MAGENTA, inside(x, y), "pixel ({x}, {y}) is {p:?}");
        count += usize::from(*p == MAGENTA);
    }
    assert!(
        count >= points.len() * 15,
        "markers too small: {count} pixels"
    );

    // The mapping itself: corners of the range are the frame corners.
    assert_eq!(
        frame.to_pixel(0.0, 0.0),
        (f64::from(frame.left), f64::from(frame.bottom))
    );
    assert_eq!(
        frame.to_pixel(1.0, 1.0),
        (f64::from(frame.right), f64::from(frame.top))
    );
}

#[test]
fn default_range_is_data_extent_plus_five_percent() {
    let chart = Chart::default().scatter(&[(0.0, 0.0), (10.0, 20.0)], MAGENTA, 2.0);
    let ((x0, x1), (y0, y1)) = chart.ranges().unwrap();
    assert!((x0 + 0.5).abs() < 1e-12 && (x1 - 10.5).abs() < 1e-12);
    assert!((y0 + 1.0).abs() < 1e-12 && (y1 - 21.0).abs() < 1e-12);
    // A single point still gets a non-empty range around it.
    let ((a, b), (c, d)) = Chart::default()
        .scatter(&[(3.0, 0.0)], MAGENTA, 2.0)
        .ranges()
        .unwrap();
    assert!(a < 3.0 && b > 3.0 && c < 0.0 && d > 0.0);
}

#[test]
fn non_finite_points_are_skipped() {
    let clean = [(1.0, 2.0), (2.0, 3.0), (4.0, -1.0)];
    let dirty = [
        (1.0, 2.0),
        (f64::NAN, 5.0),
        (2.0, 3.0),
        (1e3, f64::INFINITY),
        (f64::NEG_INFINITY, 0.0),
        (4.0, -1.0),
    ];
    let a = Chart::default().scatter(&clean, MAGENTA, 3.0);
    let b = Chart::default().scatter(&dirty, MAGENTA, 3.0);
    assert_eq!(a.ranges().unwrap(), b.ranges().unwrap());
    assert_eq!(a.render().unwrap().image(), b.render().unwrap().image());

    let colors = vec![MAGENTA; dirty.len()];
    let c = Chart::default()
        .scatter_colored(&dirty, &colors, 3.0)
        .unwrap();
    assert_eq!(a.render().unwrap().image(), c.render().unwrap().image());

    // Lines: non-finite points break the line and do not stretch the range.
    let d = Chart::default().line_series(&dirty, MAGENTA, "");
    assert_eq!(d.ranges().unwrap(), a.ranges().unwrap());
    d.render().unwrap();
}

#[test]
fn empty_chart_renders_axes() {
    let chart = Chart::default().title("nothing").x_label("x").y_label("y");
    let frame = chart.frame().unwrap();
    assert_eq!(frame.x_range, (0.0, 1.0));
    let img = chart.render().unwrap().into_image();
    assert_eq!(img.dimensions(), (800, 600));
    let mid_x = ((frame.left + frame.right) / 2) as u32;
    let mid_y = ((frame.top + frame.bottom) / 2) as u32;
    assert_eq!(*img.get_pixel(frame.left as u32, mid_y), AXIS);
    assert_eq!(*img.get_pixel(mid_x, frame.bottom as u32), AXIS);
    // Light grid lines at the ticks 0.2 .. 0.8.
    let grid_x = frame.to_pixel(0.4, 0.0).0.round() as u32;
    assert_eq!(*img.get_pixel(grid_x, mid_y + 7), palette::GRID);
}

#[test]
fn saved_png_has_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    for (w, h) in [(640, 480), (300, 200), (1200, 900)] {
        let path = dir.path().join(format!("c{w}.png"));
        Chart::new(w, h)
            .title("Size check")
            .line_series(&[(0.0, 0.0), (1.0, 2.0)], MAGENTA, "line")
            .save(&path)
            .unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (w, h));
    }
}

#[test]
fn too_small_and_bad_ranges_error() {
    let err = Chart::new(50, 40).render().unwrap_err();
    assert!(matches!(
        err,
        PlotError::TooSmall {
            width: 50,
            height: 40
        }
    ));
    assert_eq!(err.to_string(), "image too small for a chart: 50x40");

    let err = Chart::default().x_range(1.0, 1.0).render().unwrap_err();
    assert!(
        matches!(err, PlotError::InvalidRange { axis: "x", .. }),
        "{err}"
    );
    let err = Chart::default().y_range(0.0, f64::NAN).frame().unwrap_err();
    assert!(
        matches!(err, PlotError::InvalidRange { axis: "y", .. }),
        "{err}"
    );
}

#[test]
fn colour_and_point_lengths_must_match() {
    let err = Chart::default()
        .scatter_colored(&[(0.0, 0.0), (1.0, 1.0)], &[MAGENTA], 2.0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "colors (1) and points (2) differ in length"
    );
}

#[test]
fn legend_is_drawn_where_asked() {
    let swatch = Rgb([0, 160, 0]);
    for position in [
        LegendPosition::TopLeft,
        LegendPosition::TopRight,
        LegendPosition::BottomLeft,
        LegendPosition::BottomRight,
        LegendPosition::TopCenter,
        LegendPosition::BottomCenter,
        LegendPosition::OutsideRight,
    ] {
        let chart = Chart::default()
            .scatter(&[(0.0, 0.0), (1.0, 1.0)], MAGENTA, 2.0)
            .legend_entry("series", swatch, Swatch::Marker)
            .legend_position(position);
        let f = chart.frame().unwrap();
        let img = chart.render().unwrap().into_image();
        let mid_x = (f.left + f.right) / 2;
        let mid_y = (f.top + f.bottom) / 2;
        let hits: Vec<(i32, i32)> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| **p == swatch)
            .map(|(x, y, _)| (x as i32, y as i32))
            .collect();
        assert!(!hits.is_empty(), "{position:?}: no swatch");
        for (x, y) in hits {
            let ok = match position {
                LegendPosition::TopLeft => x < mid_x && y < mid_y,
                LegendPosition::TopRight => x > mid_x && y < mid_y && x < f.right,
                LegendPosition::BottomLeft => x < mid_x && y > mid_y,
                LegendPosition::BottomRight => x > mid_x && y > mid_y,
                LegendPosition::TopCenter => (x - mid_x).abs() < 100 && y < mid_y,
                LegendPosition::BottomCenter => (x - mid_x).abs() < 100 && y > mid_y,
                LegendPosition::OutsideRight | LegendPosition::Auto => x > f.right,
            };
            assert!(ok, "{position:?}: swatch pixel at ({x}, {y})");
        }
    }
}

#[test]
fn auto_legend_avoids_data() {
    // Data crowd the top-right and top-left; the legend should go below.
    let mut points = Vec::new();
    for i in 0..100 {
        let t = f64::from(i) / 99.0;
        points.push((t, 1.0 - 0.02 * f64::from(i % 3)));
    }
    points.push((0.5, 0.0));
    let swatch = Rgb([0, 160, 0]);
    let chart = Chart::default()
        .scatter(&points, MAGENTA, 2.0)
        .legend_entry("series", swatch, Swatch::Marker);
    let f = chart.frame().unwrap();
    let img = chart.render().unwrap().into_image();
    let mid_y = ((f.top + f.bottom) / 2) as u32;
    let below = img
        .enumerate_pixels()
        .filter(|(_, _, p)| **p == swatch)
        .all(|(_, y, _)| y > mid_y);
    assert!(below, "legend placed over the data");
}
