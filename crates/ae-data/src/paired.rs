//! Paired image folders: each input image has a target image with the same
//! file stem (e.g. `noisy/042.png` ↔ `clean/042.jpg`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, ImageShape};
use crate::error::{DataError, Result};
use crate::folder::{
    MismatchedSize, check_image_shape, has_image_extension, load_image_into, not_an_image,
    sorted_entries,
};
use crate::values::Values;

/// How many unmatched names an error lists before summarizing.
const MAX_LISTED: usize = 20;

/// The images of `dir` by file stem; errors on sub-folders, non-image files
/// and two images sharing a stem.
fn images_by_stem(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut map: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in sorted_entries(dir)? {
        if path.is_dir() {
            return Err(DataError::format(
                &path,
                "unexpected folder in a paired image folder (it must contain only images)",
            ));
        }
        if !has_image_extension(&path) {
            return Err(not_an_image(&path));
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(other) = map.get(&stem) {
            return Err(DataError::format(
                &path,
                format!(
                    "has the same name stem {stem:?} as {}; pairs are matched by stem",
                    other.display()
                ),
            ));
        }
        map.insert(stem, path);
    }
    Ok(map)
}

fn list(names: &[&String]) -> String {
    let mut s = names
        .iter()
        .take(MAX_LISTED)
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX_LISTED {
        s.push_str(&format!(" and {} more", names.len() - MAX_LISTED));
    }
    s
}

/// Loads input images from `input_dir` and their targets from `target_dir`,
/// matched by file stem and ordered by stem.
///
/// Images are converted to the channel count of their shape and resized
/// (triangle filter) when their size differs. Fails when a name has no
/// partner (listing the unmatched names of both folders), when a folder is
/// empty or holds a non-image file, or an image cannot be decoded.
pub fn load_paired(
    input_dir: &Path,
    target_dir: &Path,
    input_shape: ImageShape,
    target_shape: ImageShape,
) -> Result<Dataset> {
    check_image_shape(input_shape)?;
    check_image_shape(target_shape)?;
    let inputs = images_by_stem(input_dir)?;
    let targets = images_by_stem(target_dir)?;
    let no_target: Vec<&String> = inputs
        .keys()
        .filter(|k| !targets.contains_key(*k))
        .collect();
    let no_input: Vec<&String> = targets
        .keys()
        .filter(|k| !inputs.contains_key(*k))
        .collect();
    if !no_target.is_empty() || !no_input.is_empty() {
        let mut parts = Vec::new();
        if !no_target.is_empty() {
            parts.push(format!(
                "{} input(s) in {} without a target: {}",
                no_target.len(),
                input_dir.display(),
                list(&no_target)
            ));
        }
        if !no_input.is_empty() {
            parts.push(format!(
                "{} target(s) in {} without an input: {}",
                no_input.len(),
                target_dir.display(),
                list(&no_input)
            ));
        }
        return Err(DataError::format(
            input_dir,
            format!("unmatched paired images: {}", parts.join("; ")),
        ));
    }
    if inputs.is_empty() {
        return Err(DataError::format(
            input_dir,
            "no images found (expected .png, .jpg or .jpeg files)",
        ));
    }
    let n = inputs.len();
    crate::error::check_memory(
        &format!("{n} pairs of images of {input_shape} and {target_shape}"),
        (n as u128 + 16) * (input_shape.dim() as u128 + target_shape.dim() as u128) * 4,
    )?;
    let mut input_values = Vec::with_capacity(n * input_shape.dim());
    let mut target_values = Vec::with_capacity(n * target_shape.dim());
    for (stem, input_path) in &inputs {
        load_image_into(
            input_path,
            input_shape,
            MismatchedSize::Resize,
            &mut input_values,
        )?;
        if let Some(target_path) = targets.get(stem) {
            load_image_into(
                target_path,
                target_shape,
                MismatchedSize::Resize,
                &mut target_values,
            )?;
        }
    }
    Ok(Dataset {
        shape: input_shape,
        inputs: Values::U8(input_values),
        targets: Some(Values::U8(target_values).into_f32()),
        target_shape: Some(target_shape),
        labels: None,
        class_names: Vec::new(),
        value_range: Some((0.0, 1.0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::folder::tests::grey_png;

    fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let a = root.path().join("noisy");
        let b = root.path().join("clean");
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        (root, a, b)
    }

    #[test]
    fn matched_names_load_in_stem_order() {
        let (_root, a, b) = dirs();
        grey_png(&a.join("2.png"), 4, 4, 255);
        grey_png(&a.join("1.png"), 4, 4, 0);
        grey_png(&b.join("1.png"), 2, 2, 51);
        grey_png(&b.join("2.PNG"), 2, 2, 102);
        let d = load_paired(&a, &b, ImageShape::new(1, 4, 4), ImageShape::new(3, 2, 2)).unwrap();
        d.check().unwrap();
        assert_eq!(d.len(), 2);
        assert!(d.is_paired());
        assert_eq!(d.target_dim(), 12);
        assert!(d.input(0).iter().all(|&v| v == 0.0));
        assert!(d.input(1).iter().all(|&v| v == 1.0));
        // Grey targets expanded to RGB.
        assert!(d.target(0).iter().all(|&v| (v - 0.2).abs() < 1e-6));
        assert!(d.target(1).iter().all(|&v| (v - 0.4).abs() < 1e-6));
    }

    #[test]
    fn unmatched_names_are_listed_both_ways() {
        let (_root, a, b) = dirs();
        grey_png(&a.join("shared.png"), 2, 2, 0);
        grey_png(&b.join("shared.png"), 2, 2, 0);
        grey_png(&a.join("only-input.png"), 2, 2, 0);
        grey_png(&b.join("only-target.png"), 2, 2, 0);
        let shape = ImageShape::new(1, 2, 2);
        let msg = load_paired(&a, &b, shape, shape).unwrap_err().to_string();
        assert!(msg.contains("only-input"), "{msg}");
        assert!(msg.contains("only-target"), "{msg}");
        assert!(!msg.contains("shared"), "{msg}");
    }

    #[test]
    fn empty_and_duplicate_stems_error() {
        let (_root, a, b) = dirs();
        let shape = ImageShape::new(1, 2, 2);
        let msg = load_paired(&a, &b, shape, shape).unwrap_err().to_string();
        assert!(msg.contains("no images"), "{msg}");
        grey_png(&a.join("x.png"), 2, 2, 0);
        grey_png(&a.join("x.jpg"), 2, 2, 0);
        let msg = load_paired(&a, &b, shape, shape).unwrap_err().to_string();
        assert!(msg.contains("x.png") && msg.contains("x.jpg"), "{msg}");
    }
}
