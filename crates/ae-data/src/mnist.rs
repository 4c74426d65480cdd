//! MNIST and Fashion-MNIST from their IDX files.

use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, ImageShape};
use crate::error::{DataError, Result};
use crate::idx::read_idx;
use crate::values::Values;

/// Which of the two 28×28 grey-scale data sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MnistKind {
    /// Handwritten digits, in sub-folder `mnist`.
    Mnist,
    /// Zalando clothing pictures, in sub-folder `fashion-mnist`.
    FashionMnist,
}

/// Names of the ten Fashion-MNIST classes, by label id.
pub const FASHION_CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

impl MnistKind {
    /// The sub-folder of the data-sets root holding this data set.
    pub fn dir_name(self) -> &'static str {
        match self {
            MnistKind::Mnist => "mnist",
            MnistKind::FashionMnist => "fashion-mnist",
        }
    }

    /// Class names by label id (digits for MNIST).
    pub fn class_names(self) -> Vec<String> {
        match self {
            MnistKind::Mnist => (0..10).map(|d| d.to_string()).collect(),
            MnistKind::FashionMnist => FASHION_CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Training or test part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MnistSplit {
    /// The 60 000 training items (`train-*` files).
    Train,
    /// The 10 000 test items (`t10k-*` files).
    Test,
}

impl MnistSplit {
    /// The file-name prefix of this split.
    pub fn prefix(self) -> &'static str {
        match self {
            MnistSplit::Train => "train",
            MnistSplit::Test => "t10k",
        }
    }
}

/// Number of rows and columns of an MNIST image.
pub const MNIST_SIDE: usize = 28;

/// The file `<dir>/<stem>.gz`, or `<dir>/<stem>` when only that exists.
fn locate(dir: &Path, stem: &str) -> Result<PathBuf> {
    let gz = dir.join(format!("{stem}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let plain = dir.join(stem);
    if plain.is_file() {
        return Ok(plain);
    }
    Err(DataError::format(
        &gz,
        format!("file not found (nor the uncompressed {})", plain.display()),
    ))
}

/// Loads one split of MNIST or Fashion-MNIST from
/// `<datasets_root>/<kind dir>/<prefix>-{images-idx3,labels-idx1}-ubyte[.gz]`.
///
/// Checks that images are n × 28 × 28, that there is one label per image
/// and that labels are below 10. Items have shape 1 × 28 × 28, pixels are
/// scaled to `[0, 1]`.
pub fn load_mnist(datasets_root: &Path, kind: MnistKind, split: MnistSplit) -> Result<Dataset> {
    let dir = datasets_root.join(kind.dir_name());
    let image_path = locate(&dir, &format!("{}-images-idx3-ubyte", split.prefix()))?;
    let label_path = locate(&dir, &format!("{}-labels-idx1-ubyte", split.prefix()))?;

    let images = read_idx(&image_path)?;
    if images.dims.len() != 3 || images.dims[1] != MNIST_SIDE || images.dims[2] != MNIST_SIDE {
        return Err(DataError::format(
            &image_path,
            format!(
                "expected images of dimensions [n, 28, 28], found {:?}",
                images.dims
            ),
        ));
    }
    let n = images.dims[0];
    let labels = read_idx(&label_path)?;
    if labels.dims.len() != 1 {
        return Err(DataError::format(
            &label_path,
            format!(
                "expected a one-dimensional label array, found dimensions {:?}",
                labels.dims
            ),
        ));
    }
    if labels.dims[0] != n {
        return Err(DataError::format(
            &label_path,
            format!(
                "has {} labels but {} has {n} images",
                labels.dims[0],
                image_path.display()
            ),
        ));
    }
    if let Some((i, &l)) = labels.data.iter().enumerate().find(|&(_, &l)| l >= 10) {
        return Err(DataError::format(
            &label_path,
            format!("label entry {i} is {l}, but labels must be 0 to 9"),
        ));
    }
    Ok(Dataset {
        shape: ImageShape::new(1, MNIST_SIDE, MNIST_SIDE),
        // Kept as 8-bit codes: a quarter of the memory of floats, scaled to [0, 1] when read.
        inputs: Values::U8(images.data),
        targets: None,
        target_shape: None,
        labels: Some(labels.data.iter().map(|&l| u32::from(l)).collect()),
        class_names: kind.class_names(),
        value_range: Some((0.0, 1.0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::write_idx;

    fn shipped_root() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets"))
    }

    /// A fake data-sets root with `n_images` random images and `labels`.
    fn fake_root(n_images: usize, labels: &[u8]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("mnist");
        std::fs::create_dir(&dir).unwrap();
        let pixels: Vec<u8> = (0..n_images * 784).map(|i| (i % 256) as u8).collect();
        write_idx(
            &dir.join("train-images-idx3-ubyte.gz"),
            &[n_images, 28, 28],
            &pixels,
            true,
        )
        .unwrap();
        write_idx(
            &dir.join("train-labels-idx1-ubyte.gz"),
            &[labels.len()],
            labels,
            true,
        )
        .unwrap();
        root
    }

    #[test]
    fn loads_fake_root() {
        let root = fake_root(3, &[7, 0, 9]);
        let d = load_mnist(root.path(), MnistKind::Mnist, MnistSplit::Train).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d.shape, ImageShape::new(1, 28, 28));
        assert_eq!(d.labels, Some(vec![7, 0, 9]));
        assert_eq!(d.input(0)[1], 1.0 / 255.0);
        assert_eq!(d.input(0)[255], 1.0);
        d.check().unwrap();
    }

    #[test]
    fn count_mismatch_names_label_file() {
        let root = fake_root(3, &[1, 2]);
        let msg = load_mnist(root.path(), MnistKind::Mnist, MnistSplit::Train)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("train-labels-idx1-ubyte.gz"), "{msg}");
        assert!(msg.contains("2 labels"), "{msg}");
        assert!(msg.contains("3 images"), "{msg}");
    }

    #[test]
    fn bad_label_and_missing_files() {
        let root = fake_root(2, &[1, 12]);
        let msg = load_mnist(root.path(), MnistKind::Mnist, MnistSplit::Train)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("train-labels-idx1-ubyte.gz"), "{msg}");
        assert!(msg.contains("entry 1 is 12"), "{msg}");

        let msg = load_mnist(root.path(), MnistKind::Mnist, MnistSplit::Test)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("t10k-images-idx3-ubyte.gz"), "{msg}");
        assert!(msg.contains("not found"), "{msg}");
    }

    #[test]
    fn wrong_image_dims_named() {
        let root = fake_root(1, &[1]);
        let path = root.path().join("mnist/train-images-idx3-ubyte.gz");
        write_idx(&path, &[1, 28, 27], &[0; 28 * 27], false).unwrap();
        let msg = load_mnist(root.path(), MnistKind::Mnist, MnistSplit::Train)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("train-images-idx3-ubyte.gz"), "{msg}");
        assert!(msg.contains("[1, 28, 27]"), "{msg}");
    }

    #[test]
    fn shipped_mnist() {
        let train = load_mnist(shipped_root(), MnistKind::Mnist, MnistSplit::Train).unwrap();
        assert_eq!(train.len(), 60_000);
        // The images stay 8-bit: 47 MB instead of 188 MB as floats.
        assert!(matches!(&train.inputs, Values::U8(codes) if codes.len() == 60_000 * 784));
        assert_eq!(
            &train.labels.as_ref().unwrap()[..10],
            &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
        );
        let mean = train
            .inputs
            .to_f32()
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>()
            / train.inputs.len() as f64;
        assert!((mean - 0.1307).abs() < 0.001, "mean {mean}");
        assert!(
            train
                .inputs
                .to_f32()
                .iter()
                .all(|&v| (0.0..=1.0).contains(&v))
        );
        let test = load_mnist(shipped_root(), MnistKind::Mnist, MnistSplit::Test).unwrap();
        assert_eq!(test.len(), 10_000);
        assert_eq!(test.class_names.len(), 10);
    }

    #[test]
    fn shipped_fashion_mnist() {
        let test = load_mnist(shipped_root(), MnistKind::FashionMnist, MnistSplit::Test).unwrap();
        assert_eq!(test.len(), 10_000);
        assert_eq!(test.class_names[9], "Ankle boot");
        let labels = test.labels.unwrap();
        for c in 0..10 {
            assert_eq!(labels.iter().filter(|&&l| l == c).count(), 1000);
        }
    }

    #[test]
    fn kind_serde_names() {
        assert_eq!(
            serde_json::to_string(&MnistKind::FashionMnist).unwrap(),
            "\"fashion-mnist\""
        );
        let k: MnistKind = serde_json::from_str("\"mnist\"").unwrap();
        assert_eq!(k, MnistKind::Mnist);
    }
}
