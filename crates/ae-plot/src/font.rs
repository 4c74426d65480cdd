//! A built-in 5×7 bitmap font for printable ASCII (32..=126).
//!
//! Every glyph lives in a cell [`CELL_WIDTH`] × [`CELL_HEIGHT`] pixels at
//! scale 1: five columns of ink plus one column of spacing, seven rows from
//! the cap line down to the baseline plus two descender rows (for `g`, `j`,
//! `p`, `q`, `y`, `,` and `_`). Drawing at an integer `scale` turns every
//! font pixel into a `scale × scale` block, so text stays crisp.
//!
//! Characters outside printable ASCII are drawn as a hollow box, except a few
//! typographic dashes (`−`, `–`, `—`) which map to `-` and tabs which map to a
//! space.

/// Width of the inked part of a glyph, in font pixels.
pub const GLYPH_WIDTH: u32 = 5;
/// Height from cap line to baseline, in font pixels (digits and capitals).
pub const GLYPH_HEIGHT: u32 = 7;
/// Horizontal advance of one character, in font pixels.
pub const CELL_WIDTH: u32 = 6;
/// Height of a text line including descenders, in font pixels.
pub const CELL_HEIGHT: u32 = 9;

const ROWS: usize = CELL_HEIGHT as usize;

/// Parses glyph art at compile time: `#` is ink, `.` is blank, spaces
/// separate rows for readability; every five pixel characters make one row,
/// placed from row `top` of the cell downwards. Bit 4 is the leftmost column.
const fn g(top: usize, art: &str) -> [u8; ROWS] {
    let bytes = art.as_bytes();
    let mut rows = [0u8; ROWS];
    let mut row = top;
    let mut col = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' | b'.' => {
                assert!(row < ROWS, "glyph art is taller than the cell");
                if bytes[i] == b'#' {
                    rows[row] |= 1 << (4 - col);
                }
                col += 1;
                if col == 5 {
                    col = 0;
                    row += 1;
                }
            }
            b' ' => {}
            _ => panic!("glyph art may only contain '#', '.' and ' '"),
        }
        i += 1;
    }
    assert!(col == 0, "glyph art ends in the middle of a row");
    rows
}

/// Glyphs for code points 32..=126, in order.
const GLYPHS: [[u8; ROWS]; 95] = [
    g(0, ""),                                                      // space
    g(0, "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#.."),             // !
    g(0, ".#.#. .#.#. .#.#."),                                     // "
    g(0, ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#."),             // #
    g(0, "..#.. .#### #.#.. .###. ..#.# ####. ..#.."),             // $
    g(0, "##... ##..# ...#. ..#.. .#... #..## ...##"),             // %
    g(0, ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#"),             // &
    g(0, "..#.. ..#.. ..#.."),                                     // '
    g(0, "...#. ..#.. .#... .#... .#... ..#.. ...#."),             // (
    g(0, ".#... ..#.. ...#. ...#. ...#. ..#.. .#..."),             // )
    g(0, "..... ..#.. #.#.# .###. #.#.# ..#.. ....."),             // *
    g(0, "..... ..#.. ..#.. ##### ..#.. ..#.. ....."),             // +
    g(2, "..... ..... ..... .##.. .##.. ..#.. .#..."),             // ,
    g(0, "..... ..... ..... ##### ..... ..... ....."),             // -
    g(0, "..... ..... ..... ..... ..... .##.. .##.."),             // .
    g(0, "....# ....# ...#. ..#.. .#... #.... #...."),             // /
    g(0, ".###. #...# #..## #.#.# ##..# #...# .###."),             // 0
    g(0, "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###."),             // 1
    g(0, ".###. #...# ....# ...#. ..#.. .#... #####"),             // 2
    g(0, "##### ...#. ..#.. ...#. ....# #...# .###."),             // 3
    g(0, "...#. ..##. .#.#. #..#. ##### ...#. ...#."),             // 4
    g(0, "##### #.... ####. ....# ....# #...# .###."),             // 5
    g(0, "..##. .#... #.... ####. #...# #...# .###."),             // 6
    g(0, "##### ....# ...#. ..#.. .#... .#... .#..."),             // 7
    g(0, ".###. #...# #...# .###. #...# #...# .###."),             // 8
    g(0, ".###. #...# #...# .#### ....# ...#. .##.."),             // 9
    g(0, "..... .##.. .##.. ..... .##.. .##.. ....."),             // :
    g(0, "..... .##.. .##.. ..... .##.. ..#.. .#..."),             // ;
    g(0, "...#. ..#.. .#... #.... .#... ..#.. ...#."),             // <
    g(0, "..... ..... ##### ..... ##### ..... ....."),             // =
    g(0, ".#... ..#.. ...#. ....# ...#. ..#.. .#..."),             // >
    g(0, ".###. #...# ....# ...#. ..#.. ..... ..#.."),             // ?
    g(0, ".###. #...# ....# .##.# #.#.# #.#.# .###."),             // @
    g(0, ".###. #...# #...# ##### #...# #...# #...#"),             // A
    g(0, "####. #...# #...# ####. #...# #...# ####."),             // B
    g(0, ".###. #...# #.... #.... #.... #...# .###."),             // C
    g(0, "###.. #..#. #...# #...# #...# #..#. ###.."),             // D
    g(0, "##### #.... #.... ####. #.... #.... #####"),             // E
    g(0, "##### #.... #.... ####. #.... #.... #...."),             // F
    g(0, ".###. #...# #.... #.### #...# #...# .####"),             // G
    g(0, "#...# #...# #...# ##### #...# #...# #...#"),             // H
    g(0, ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###."),             // I
    g(0, "..### ...#. ...#. ...#. ...#. #..#. .##.."),             // J
    g(0, "#...# #..#. #.#.. ##... #.#.. #..#. #...#"),             // K
    g(0, "#.... #.... #.... #.... #.... #.... #####"),             // L
    g(0, "#...# ##.## #.#.# #.#.# #...# #...# #...#"),             // M
    g(0, "#...# #...# ##..# #.#.# #..## #...# #...#"),             // N
    g(0, ".###. #...# #...# #...# #...# #...# .###."),             // O
    g(0, "####. #...# #...# ####. #.... #.... #...."),             // P
    g(0, ".###. #...# #...# #...# #.#.# #..#. .##.#"),             // Q
    g(0, "####. #...# #...# ####. #.#.. #..#. #...#"),             // R
    g(0, ".#### #.... #.... .###. ....# ....# ####."),             // S
    g(0, "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."),             // T
    g(0, "#...# #...# #...# #...# #...# #...# .###."),             // U
    g(0, "#...# #...# #...# #...# #...# .#.#. ..#.."),             // V
    g(0, "#...# #...# #...# #.#.# #.#.# #.#.# .#.#."),             // W
    g(0, "#...# #...# .#.#. ..#.. .#.#. #...# #...#"),             // X
    g(0, "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#.."),             // Y
    g(0, "##### ....# ...#. ..#.. .#... #.... #####"),             // Z
    g(0, ".###. .#... .#... .#... .#... .#... .###."),             // [
    g(0, "#.... #.... .#... ..#.. ...#. ....# ....#"),             // backslash
    g(0, ".###. ...#. ...#. ...#. ...#. ...#. .###."),             // ]
    g(0, "..#.. .#.#. #...#"),                                     // ^
    g(7, "#####"),                                                 // _
    g(0, ".#... ..#.. ...#."),                                     // `
    g(2, ".###. ....# .#### #...# .####"),                         // a
    g(0, "#.... #.... #.##. ##..# #...# #...# ####."),             // b
    g(2, ".###. #.... #.... #...# .###."),                         // c
    g(0, "....# ....# .##.# #..## #...# #...# .####"),             // d
    g(2, ".###. #...# ##### #.... .###."),                         // e
    g(0, "..##. .#..# .#... ###.. .#... .#... .#..."),             // f
    g(2, ".#### #...# #...# #...# .#### ....# .###."),             // g
    g(0, "#.... #.... #.##. ##..# #...# #...# #...#"),             // h
    g(0, "..#.. ..... .##.. ..#.. ..#.. ..#.. .###."),             // i
    g(0, "...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##.."), // j
    g(0, "#.... #.... #..#. #.#.. ##... #.#.. #..#."),             // k
    g(0, ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###."),             // l
    g(2, "##.#. #.#.# #.#.# #.#.# #.#.#"),                         // m
    g(2, "#.##. ##..# #...# #...# #...#"),                         // n
    g(2, ".###. #...# #...# #...# .###."),                         // o
    g(2, "####. #...# #...# #...# ####. #.... #...."),             // p
    g(2, ".#### #...# #...# #...# .#### ....# ....#"),             // q
    g(2, "#.##. ##..# #.... #.... #...."),                         // r
    g(2, ".#### #.... .###. ....# ####."),                         // s
    g(0, ".#... .#... ###.. .#... .#... .#..# ..##."),             // t
    g(2, "#...# #...# #...# #..## .##.#"),                         // u
    g(2, "#...# #...# #...# .#.#. ..#.."),                         // v
    g(2, "#...# #...# #.#.# #.#.# .#.#."),                         // w
    g(2, "#...# .#.#. ..#.. .#.#. #...#"),                         // x
    g(2, "#...# #...# #...# #...# .#### ....# .###."),             // y
    g(2, "##### ...#. ..#.. .#... #####"),                         // z
    g(0, "...## ..#.. ..#.. .#... ..#.. ..#.. ...##"),             // {
    g(0, "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."),             // |
    g(0, "##... ..#.. ..#.. ...#. ..#.. ..#.. ##..."),             // }
    g(2, ".#... #.#.# ...#."),                                     // ~
];

/// Drawn for characters the font does not cover.
const MISSING: [u8; ROWS] = g(0, "##### #...# #...# #...# #...# #...# #####");

/// Whether `c` has its own glyph (printable ASCII, 32..=126).
pub fn is_supported(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// The bitmap of `c`: one byte per cell row (top to bottom, descender rows
/// last), bit 4 being the leftmost of the five columns.
///
/// Unsupported characters give a hollow box (see the module docs for the
/// few that are mapped to ASCII look-alikes).
pub fn glyph(c: char) -> [u8; CELL_HEIGHT as usize] {
    let c = match c {
        '\u{2212}' | '\u{2013}' | '\u{2014}' => '-',
        '\t' => ' ',
        other => other,
    };
    if is_supported(c) {
        GLYPHS[c as usize - 32]
    } else {
        MISSING
    }
}

/// Width in pixels of `text` drawn at `scale` (a scale of 0 counts as 1):
/// the advance of every character minus the trailing spacing column, so it
/// equals the pixel extent of text that starts and ends with full-width
/// glyphs. Empty text is 0 wide.
pub fn text_width(text: &str, scale: u32) -> u32 {
    let scale = scale.max(1);
    let n = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    if n == 0 {
        0
    } else {
        n.saturating_mul(CELL_WIDTH * scale).saturating_sub(scale)
    }
}

/// Height in pixels of one line of text at `scale`, descenders included.
pub fn text_height(scale: u32) -> u32 {
    CELL_HEIGHT * scale.max(1)
}

/// Calls `f(dx, dy)` for every inked pixel of `text` drawn at `scale`, with
/// offsets relative to the top-left corner of the first character cell.
pub fn for_each_pixel(text: &str, scale: u32, mut f: impl FnMut(u32, u32)) {
    let scale = scale.max(1);
    let mut origin = 0u32;
    for c in text.chars() {
        let bits = glyph(c);
        for (row, &line) in (0u32..).zip(bits.iter()) {
            if line == 0 {
                continue;
            }
            for col in 0..GLYPH_WIDTH {
                if line & (1 << (GLYPH_WIDTH - 1 - col)) == 0 {
                    continue;
                }
                let (x0, y0) = (origin + col * scale, row * scale);
                for dy in 0..scale {
                    for dx in 0..scale {
                        f(x0 + dx, y0 + dy);
                    }
                }
            }
        }
        origin = origin.saturating_add(CELL_WIDTH * scale);
    }
}

/// Shortens `text` (appending `..`) until it is at most `max_width` pixels
/// wide at `scale`; returns it unchanged when it already fits.
pub fn truncate_to_width(text: &str, scale: u32, max_width: u32) -> String {
    if text_width(text, scale) <= max_width {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().chain(['.', '.'].iter()).collect();
        if text_width(&candidate, scale) <= max_width {
            return candidate;
        }
    }
    String::new()
}
