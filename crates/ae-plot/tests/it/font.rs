//! The built-in bitmap font.

use std::collections::HashSet;

use ae_plot::font::{
    self, CELL_HEIGHT, GLYPH_WIDTH, for_each_pixel, glyph, text_height, text_width,
};
use ae_plot::{Canvas, Rgb};

fn printable() -> impl Iterator<Item = char> {
    (32u8..=126).map(char::from)
}

#[test]
fn every_printable_char_has_a_distinct_glyph() {
    let mut seen = HashSet::new();
    for c in printable() {
        let g = glyph(c);
        assert!(font::is_supported(c));
        assert_eq!(g.iter().all(|&row| row == 0), c == ' ', "ink of {c:?}");
        assert!(
            g.iter().all(|&row| row < 1 << GLYPH_WIDTH),
            "{c:?} too wide"
        );
        assert!(seen.insert(g), "{c:?} looks like another character");
    }
    assert_eq!(seen.len(), 95);
    // Unsupported characters get a box that is not any printable glyph.
    assert!(!font::is_supported('é'));
    assert!(!seen.contains(&glyph('é')));
    assert_eq!(glyph('\u{2212}'), glyph('-'));
}

#[test]
fn descenders_only_where_expected() {
    for c in printable() {
        let below = glyph(c)[7..].iter().any(|&r| r != 0);
        assert_eq!(below, "gjpqy,_".contains(c), "descender of {c:?}");
    }
}

fn extent(text: &str, scale: u32) -> (u32, u32) {
    let (mut w, mut h) = (0, 0);
    for_each_pixel(text, scale, |x, y| {
        w = w.max(x + 1);
        h = h.max(y + 1);
    });
    (w, h)
}

#[test]
fn text_width_matches_pixel_extent() {
    // Strings whose first and last glyphs touch both side columns.
    for text in ["H", "Hello W", "AUROC 0.973", "M-0.25%", "Wqz"] {
        for scale in 1..=4 {
            let (w, h) = extent(text, scale);
            assert_eq!(w, text_width(text, scale), "{text:?} at {scale}");
            assert!(h <= text_height(scale));
        }
    }
    // Any text stays inside its advertised box.
    let all: String = printable().collect();
    for scale in 1..=3 {
        let (w, h) = extent(&all, scale);
        assert!(w <= text_width(&all, scale));
        assert_eq!(h, CELL_HEIGHT * scale, "descenders reach the last row");
    }
    assert_eq!(text_width("", 2), 0);
    assert_eq!(text_width("ab", 0), text_width("ab", 1));
}

fn ink_bounds(canvas: &Canvas, background: Rgb<u8>) -> Option<(u32, u32, u32, u32)> {
    let img = canvas.image();
    let mut b: Option<(u32, u32, u32, u32)> = None;
    for (x, y, p) in img.enumerate_pixels() {
        if *p != background {
            b = Some(match b {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            });
        }
    }
    b
}

#[test]
fn canvas_text_lands_where_measured() {
    let white = Rgb([255, 255, 255]);
    let text = "Hello World";
    let mut canvas = Canvas::new(200, 60, white);
    canvas.text(7, 11, text, 2, Rgb([0, 0, 0]));
    let (x0, y0, x1, y1) = ink_bounds(&canvas, white).expect("text drew nothing");
    assert_eq!((x0, y0), (7, 11));
    assert_eq!(x1 - x0 + 1, text_width(text, 2));
    assert_eq!(
        y1 - y0 + 1,
        7 * 2,
        "capitals and lowercase without descenders"
    );

    let mut canvas = Canvas::new(60, 200, white);
    canvas.text_vertical(5, 9, text, 2, Rgb([0, 0, 0]));
    let (x0, y0, x1, y1) = ink_bounds(&canvas, white).expect("text drew nothing");
    assert_eq!((x0, y0), (5, 9));
    assert_eq!(y1 - y0 + 1, text_width(text, 2));
    assert_eq!(x1 - x0 + 1, 7 * 2);
}

#[test]
fn truncation_fits() {
    let long = "a fairly long legend label";
    let t = font::truncate_to_width(long, 2, 100);
    assert!(text_width(&t, 2) <= 100);
    assert!(t.ends_with(".."));
    assert_eq!(font::truncate_to_width("ok", 2, 100), "ok");
}
