//! Image folders: `root/<class>/<image>.png|jpg|jpeg`, or images directly in
//! `root` for unlabelled data.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageReader};

use crate::dataset::{Dataset, ImageShape};
use crate::error::{DataError, Result};
use crate::values::Values;

/// What to do with an image whose size differs from the requested shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MismatchedSize {
    /// Resize it (triangle filter) to the requested height × width.
    Resize,
    /// Fail, naming the file.
    Reject,
}

/// File extensions (lower case) accepted as images.
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// True when the file name has an image extension (case-insensitive).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// True when the file name starts with a dot.
pub(crate) fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Checks that `shape` is a grey or RGB image shape with a non-zero size.
pub(crate) fn check_image_shape(shape: ImageShape) -> Result<()> {
    if shape.channels != 1 && shape.channels != 3 {
        return Err(DataError::invalid(format!(
            "image shape {shape}: channels must be 1 (grey) or 3 (RGB), not {}",
            shape.channels
        )));
    }
    if shape.height == 0 || shape.width == 0 {
        return Err(DataError::invalid(format!(
            "image shape {shape}: height and width must be positive"
        )));
    }
    if u32::try_from(shape.height).is_err() || u32::try_from(shape.width).is_err() {
        return Err(DataError::invalid(format!(
            "image shape {shape} is too large"
        )));
    }
    Ok(())
}

/// The non-hidden entries of `dir`, sorted by file name.
pub(crate) fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut paths = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let path = entry.path();
        if !is_hidden(&path) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// The error for a file that is not an image.
pub(crate) fn not_an_image(path: &Path) -> DataError {
    DataError::format(
        path,
        "not an image file (expected a .png, .jpg or .jpeg file; hidden files starting with '.' are ignored)",
    )
}

/// Decodes the image at `path`, converts it to `shape.channels` channels,
/// fits it to `shape` per `on_mismatch` and appends its CHW 8-bit codes
/// to `out`. `shape` must have passed [`check_image_shape`].
pub(crate) fn load_image_into(
    path: &Path,
    shape: ImageShape,
    on_mismatch: MismatchedSize,
    out: &mut Vec<u8>,
) -> Result<()> {
    let image = ImageReader::open(path)
        .map_err(|e| DataError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?
        .decode()
        .map_err(|source| DataError::Image {
            path: path.to_path_buf(),
            source,
        })?;
    let (w, h) = (shape.width as u32, shape.height as u32);
    if (image.width(), image.height()) != (w, h) && on_mismatch == MismatchedSize::Reject {
        return Err(DataError::format(
            path,
            format!(
                "image is {}x{} (width x height) but {}x{} is required",
                image.width(),
                image.height(),
                w,
                h
            ),
        ));
    }
    let fit = |img: DynamicImage| -> DynamicImage {
        if (img.width(), img.height()) == (w, h) {
            img
        } else {
            img.resize_exact(w, h, FilterType::Triangle)
        }
    };
    if shape.channels == 1 {
        let grey = fit(DynamicImage::ImageLuma8(image.into_luma8())).into_luma8();
        out.extend_from_slice(grey.as_raw());
    } else {
        let plane = shape.height * shape.width;
        let start = out.len();
        out.resize(start + shape.dim(), 0);
        let dst = &mut out[start..];
        let rgb = fit(DynamicImage::ImageRgb8(image.into_rgb8())).into_rgb8();
        for (i, px) in rgb.as_raw().chunks_exact(3).enumerate() {
            for (c, &v) in px.iter().enumerate() {
                dst[c * plane + i] = v;
            }
        }
    }
    Ok(())
}

/// The image files of a folder, in order, with their class labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderListing {
    /// Every image file with its label (the index of its class folder), in load order.
    pub files: Vec<(PathBuf, Option<u32>)>,
    /// The class folder names (sorted), empty when the images lie directly in the root.
    pub class_names: Vec<String>,
}

/// Lists the images of `root`, either directly in it (unlabelled) or in one
/// sub-folder per class (labelled by the sorted folder names).
///
/// Fails on an empty folder or class folder, on a non-image file and on a
/// mix of images and class folders in `root`, each time naming the file or
/// folder. Hidden entries (starting with `.`) are ignored.
pub fn list_image_folder(root: &Path) -> Result<FolderListing> {
    let mut classes = Vec::new();
    let mut root_images = Vec::new();
    for path in sorted_entries(root)? {
        if path.is_dir() {
            classes.push(path);
        } else if has_image_extension(&path) {
            root_images.push(path);
        } else {
            return Err(not_an_image(&path));
        }
    }
    if let (Some(_), Some(img)) = (classes.first(), root_images.first()) {
        return Err(DataError::format(
            root,
            format!(
                "contains both class sub-folders and images directly in it (e.g. {}); put every image in a class sub-folder",
                img.display()
            ),
        ));
    }

    let mut files: Vec<(PathBuf, Option<u32>)> = Vec::new();
    let mut class_names = Vec::new();
    if classes.is_empty() {
        files.extend(root_images.into_iter().map(|p| (p, None)));
    } else {
        for (label, class_dir) in classes.iter().enumerate() {
            let label = u32::try_from(label)
                .map_err(|_| DataError::format(root, "too many class sub-folders"))?;
            let before = files.len();
            for path in sorted_entries(class_dir)? {
                if path.is_dir() {
                    return Err(DataError::format(
                        &path,
                        "unexpected folder inside a class folder (class folders must contain only images)",
                    ));
                }
                if !has_image_extension(&path) {
                    return Err(not_an_image(&path));
                }
                files.push((path, Some(label)));
            }
            if files.len() == before {
                return Err(DataError::format(
                    class_dir,
                    "class folder contains no images",
                ));
            }
            let name = class_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            class_names.push(name);
        }
    }
    if files.is_empty() {
        return Err(DataError::format(
            root,
            "no images found (expected .png, .jpg or .jpeg files, or class sub-folders of them)",
        ));
    }
    Ok(FolderListing { files, class_names })
}

/// Loads the images `files` of a listed folder as a data set of `shape`, with the labels
/// of the listing's class folders (none when `class_names` is empty).
pub(crate) fn load_listed_images(
    files: &[(PathBuf, Option<u32>)],
    class_names: &[String],
    shape: ImageShape,
    on_mismatch: MismatchedSize,
) -> Result<Dataset> {
    // Each image is held as bytes, and decoded and resized through buffers of a few bytes per
    // value first.
    crate::error::check_memory(
        &format!("{} images of {shape}", files.len()),
        (files.len() as u128 + 16) * shape.dim() as u128,
    )?;
    let mut inputs = Vec::with_capacity(files.len() * shape.dim());
    for (path, _) in files {
        load_image_into(path, shape, on_mismatch, &mut inputs)?;
    }
    let labels = if class_names.is_empty() {
        None
    } else {
        Some(files.iter().filter_map(|(_, l)| *l).collect())
    };
    Ok(Dataset {
        shape,
        inputs: Values::U8(inputs),
        targets: None,
        target_shape: None,
        labels,
        class_names: class_names.to_vec(),
        value_range: Some((0.0, 1.0)),
    })
}

/// Loads an image folder as a data set of `shape`: images directly in `root`
/// (unlabelled) or in one sub-folder per class (labelled by the sorted
/// folder names). Images are converted to grey (1 channel) or RGB (3
/// channels) and resized or rejected when their size differs, per
/// `on_mismatch`.
///
/// Fails as [`list_image_folder`] does, and on a decode failure or (when
/// rejecting) a mismatched size, naming the file.
pub fn load_image_folder(
    root: &Path,
    shape: ImageShape,
    on_mismatch: MismatchedSize,
) -> Result<Dataset> {
    check_image_shape(shape)?;
    let listing = list_image_folder(root)?;
    load_listed_images(&listing.files, &listing.class_names, shape, on_mismatch)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb, RgbImage};

    /// Writes a `w`×`h` grey PNG whose pixels are all `v`.
    pub(crate) fn grey_png(path: &Path, w: u32, h: u32, v: u8) {
        GrayImage::from_pixel(w, h, Luma([v])).save(path).unwrap();
    }

    fn two_classes() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let cats = dir.path().join("cats");
        let dogs = dir.path().join("dogs");
        std::fs::create_dir(&cats).unwrap();
        std::fs::create_dir(&dogs).unwrap();
        grey_png(&cats.join("a.png"), 4, 3, 255);
        grey_png(&cats.join("b.png"), 4, 3, 0);
        grey_png(&dogs.join("big.png"), 8, 6, 51);
        std::fs::write(dogs.join(".DS_Store"), b"junk").unwrap();
        dir
    }

    #[test]
    fn resize_gives_shape_and_labels() {
        let dir = two_classes();
        let shape = ImageShape::new(1, 3, 4);
        let d = load_image_folder(dir.path(), shape, MismatchedSize::Resize).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d.shape, shape);
        assert_eq!(d.inputs.len(), 3 * 12);
        // 8-bit images stay 8-bit in memory.
        assert!(matches!(d.inputs, Values::U8(_)));
        assert_eq!(d.class_names, vec!["cats", "dogs"]);
        assert_eq!(d.labels, Some(vec![0, 0, 1]));
        assert!(d.input(0).iter().all(|&v| v == 1.0));
        assert!(d.input(1).iter().all(|&v| v == 0.0));
        // A uniform image stays uniform after resizing.
        assert!(d.input(2).iter().all(|&v| (v - 0.2).abs() < 1.5 / 255.0));
        assert_eq!(d.value_range, Some((0.0, 1.0)));
    }

    #[test]
    fn reject_names_the_file() {
        let dir = two_classes();
        let msg = load_image_folder(dir.path(), ImageShape::new(1, 3, 4), MismatchedSize::Reject)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("big.png"), "{msg}");
        assert!(msg.contains("8x6"), "{msg}");
    }

    #[test]
    fn rgb_is_chw() {
        let dir = tempfile::tempdir().unwrap();
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(0, 0, Rgb([255, 0, 51]));
        img.put_pixel(1, 0, Rgb([0, 255, 102]));
        img.save(dir.path().join("x.png")).unwrap();
        let d = load_image_folder(dir.path(), ImageShape::new(3, 1, 2), MismatchedSize::Reject)
            .unwrap();
        assert_eq!(d.labels, None);
        assert!(d.class_names.is_empty());
        assert_eq!(d.inputs, vec![1.0, 0.0, 0.0, 1.0, 0.2, 0.4]);
        // The same image as grey has one channel.
        let g = load_image_folder(dir.path(), ImageShape::new(1, 1, 2), MismatchedSize::Reject)
            .unwrap();
        assert_eq!(g.inputs.len(), 2);
    }

    #[test]
    fn text_file_is_named() {
        let dir = two_classes();
        std::fs::write(dir.path().join("cats").join("notes.txt"), "hello").unwrap();
        let msg = load_image_folder(dir.path(), ImageShape::new(1, 3, 4), MismatchedSize::Resize)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("notes.txt"), "{msg}");
        assert!(msg.contains("not an image"), "{msg}");
    }

    #[test]
    fn undecodable_image_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fake.png"), "not really a png").unwrap();
        let msg = load_image_folder(dir.path(), ImageShape::new(1, 3, 4), MismatchedSize::Resize)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("fake.png"), "{msg}");
    }

    #[test]
    fn empty_folders_error() {
        let dir = tempfile::tempdir().unwrap();
        let shape = ImageShape::new(1, 3, 4);
        let msg = load_image_folder(dir.path(), shape, MismatchedSize::Resize)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no images"), "{msg}");
        std::fs::create_dir(dir.path().join("empty-class")).unwrap();
        let msg = load_image_folder(dir.path(), shape, MismatchedSize::Resize)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("empty-class"), "{msg}");
        let msg = load_image_folder(&dir.path().join("missing"), shape, MismatchedSize::Resize)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("missing"), "{msg}");
    }

    #[test]
    fn mixed_root_and_bad_shape_error() {
        let dir = two_classes();
        grey_png(&dir.path().join("stray.png"), 4, 3, 0);
        let msg = load_image_folder(dir.path(), ImageShape::new(1, 3, 4), MismatchedSize::Resize)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("stray.png"), "{msg}");
        assert!(
            load_image_folder(dir.path(), ImageShape::new(2, 3, 4), MismatchedSize::Resize)
                .is_err()
        );
    }
}
