//! How a data set stores its item values: 32-bit floats, or the 8-bit codes of images.

use std::borrow::Cow;
use std::ops::Range;

/// Flat item values. 8-bit images keep their codes (a quarter of the memory of floats) and
/// are scaled to `[0, 1]` only when read; every reader sees `f32` values either way.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Values held as they are.
    F32(Vec<f32>),
    /// 8-bit codes: code `c` stands for the value `c / 255`.
    U8(Vec<u8>),
}

/// The value an 8-bit code stands for.
#[inline]
fn decode(code: u8) -> f32 {
    f32::from(code) / 255.0
}

impl Values {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::U8(v) => v.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An empty store of the same kind, with room for `capacity` values.
    pub fn empty_like(&self, capacity: usize) -> Values {
        match self {
            Values::F32(_) => Values::F32(Vec::with_capacity(capacity)),
            Values::U8(_) => Values::U8(Vec::with_capacity(capacity)),
        }
    }

    /// The values in `range` as floats: borrowed when stored as floats, decoded otherwise.
    /// Panics if the range is out of bounds.
    pub fn slice(&self, range: Range<usize>) -> Cow<'_, [f32]> {
        match self {
            Values::F32(v) => Cow::Borrowed(&v[range]),
            Values::U8(v) => Cow::Owned(v[range].iter().map(|&c| decode(c)).collect()),
        }
    }

    /// Appends the values in `range`, as floats, to `out`. Panics if the range is out of
    /// bounds.
    pub fn extend_into(&self, range: Range<usize>, out: &mut Vec<f32>) {
        match self {
            Values::F32(v) => out.extend_from_slice(&v[range]),
            Values::U8(v) => out.extend(v[range].iter().map(|&c| decode(c))),
        }
    }

    /// Appends the values in `range` of `other`; the store becomes floats when the kinds
    /// differ. Panics if the range is out of bounds.
    pub fn extend_from(&mut self, other: &Values, range: Range<usize>) {
        match (&mut *self, other) {
            (Values::U8(mine), Values::U8(theirs)) => mine.extend_from_slice(&theirs[range]),
            _ => other.extend_into(range, self.make_f32()),
        }
    }

    /// All values as floats: borrowed when stored as floats, decoded otherwise.
    pub fn to_f32(&self) -> Cow<'_, [f32]> {
        self.slice(0..self.len())
    }

    /// The values as floats, decoding 8-bit codes.
    pub fn into_f32(mut self) -> Vec<f32> {
        std::mem::take(self.make_f32())
    }

    /// The values as a mutable float vector, decoding 8-bit codes once if needed.
    pub fn make_f32(&mut self) -> &mut Vec<f32> {
        if let Values::U8(codes) = self {
            *self = Values::F32(codes.iter().map(|&c| decode(c)).collect());
        }
        match self {
            Values::F32(v) => v,
            Values::U8(_) => unreachable!("8-bit codes were decoded above"),
        }
    }

    /// Moves the items at `indices` (strictly increasing) of `width` values each to the
    /// front, in order, and drops the rest, without a second buffer.
    pub(crate) fn retain_items(&mut self, width: usize, indices: &[usize]) {
        match self {
            Values::F32(v) => compact(v, width, indices),
            Values::U8(v) => compact(v, width, indices),
        }
    }
}

/// Keeps the items at `indices` (strictly increasing) of `width` values each, moving them
/// forward in place.
pub(crate) fn compact<T: Copy>(values: &mut Vec<T>, width: usize, indices: &[usize]) {
    for (k, &i) in indices.iter().enumerate() {
        if k != i {
            values.copy_within(i * width..(i + 1) * width, k * width);
        }
    }
    values.truncate(indices.len() * width);
    // A large buffer shrinks in place (mremap), without a copy.
    values.shrink_to_fit();
}

impl From<Vec<f32>> for Values {
    fn from(values: Vec<f32>) -> Self {
        Values::F32(values)
    }
}

impl PartialEq<Vec<f32>> for Values {
    fn eq(&self, other: &Vec<f32>) -> bool {
        *self.to_f32() == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_scaled_floats() {
        let v = Values::U8(vec![0, 51, 255, 128]);
        assert_eq!(v.len(), 4);
        assert_eq!(*v.slice(1..3), [0.2, 1.0]);
        assert_eq!(v.to_f32()[3], 128.0 / 255.0);
        let mut out = vec![9.0];
        v.extend_into(2..4, &mut out);
        assert_eq!(out, vec![9.0, 1.0, 128.0 / 255.0]);
        assert_eq!(v, vec![0.0, 0.2, 1.0, 128.0 / 255.0]);
        assert_ne!(v, vec![0.0, 0.2, 1.0]);
    }

    #[test]
    fn floats_are_borrowed() {
        let v = Values::from(vec![1.5, -2.0]);
        assert!(matches!(v.to_f32(), Cow::Borrowed(_)));
        assert!(matches!(Values::U8(vec![1]).to_f32(), Cow::Owned(_)));
    }

    #[test]
    fn mixed_appends_become_floats() {
        let mut codes = Values::U8(vec![255]);
        codes.extend_from(&Values::U8(vec![0, 51]), 1..2);
        assert_eq!(codes, Values::U8(vec![255, 51]));
        codes.extend_from(&Values::from(vec![0.5]), 0..1);
        assert_eq!(codes, Values::F32(vec![1.0, 0.2, 0.5]));
    }

    #[test]
    fn make_f32_decodes_once() {
        let mut v = Values::U8(vec![255, 0]);
        v.make_f32()[1] = 0.25;
        assert_eq!(v, Values::F32(vec![1.0, 0.25]));
        assert_eq!(Values::U8(vec![51]).into_f32(), vec![0.2]);
    }

    #[test]
    fn retain_items_keeps_chosen_items_in_order() {
        let mut v = Values::U8(vec![1, 2, 3, 4, 5, 6]);
        v.retain_items(2, &[0, 2]);
        assert_eq!(v, Values::U8(vec![1, 2, 5, 6]));
        let mut f = Values::from(vec![1.0, 2.0, 3.0]);
        f.retain_items(1, &[1]);
        assert_eq!(f, Values::F32(vec![2.0]));
    }
}
