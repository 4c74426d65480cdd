//! Turning item indices into corrupted/clean tensor batches for burn's data
//! loader.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::backend::Backend;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::ChaCha12Rng;

use crate::corruption::{Corruption, binarize, dequantize};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// One training batch.
#[derive(Debug, Clone)]
pub struct AeBatch<B: Backend> {
    /// Corrupted inputs, `[n, dim]`.
    pub input: Tensor<B, 2>,
    /// Clean targets, `[n, target_dim]`.
    pub target: Tensor<B, 2>,
    /// Class ids `[n]`, when the data is labelled.
    pub labels: Option<Tensor<B, 1, Int>>,
}

/// Builds [`AeBatch`]es from item indices of a shared [`Dataset`], applying
/// dynamic binarization and corruptions with reproducible randomness.
///
/// The random generator of a batch is seeded from a hash of the batcher's
/// seed and the batch's indices, so a batch is the same whatever the number
/// of loader workers, and changes between epochs as shuffling changes the
/// batch composition.
#[derive(Clone, Debug)]
pub struct AeBatcher {
    data: Arc<Dataset>,
    corruptions: Vec<Corruption>,
    binarize: bool,
    dequantize: bool,
    seed: u64,
}

/// One round of the SplitMix64 mixer.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable hash of `seed` and the ordered `indices`.
fn batch_seed(seed: u64, indices: &[usize]) -> u64 {
    let mut h = splitmix64(seed);
    for &i in indices {
        h = splitmix64(h ^ i as u64);
    }
    splitmix64(h ^ indices.len() as u64)
}

impl AeBatcher {
    /// A batcher over `data`. Corruptions are applied in order to the input
    /// (they should have passed [`Corruption::validate`]); `binarize`
    /// replaces each value by a Bernoulli sample first (for data in `[0, 1]`).
    pub fn new(
        data: Arc<Dataset>,
        corruptions: Vec<Corruption>,
        binarize: bool,
        seed: u64,
    ) -> Self {
        Self {
            data,
            corruptions,
            binarize,
            dequantize: false,
            seed,
        }
    }

    /// Turns uniform dequantization on or off: each value `x` of 8-bit data scaled to `[0, 1]`
    /// becomes `(round(255·x) + u) / 256` with `u ~ U(0, 1)` drawn afresh every time the item is
    /// used, in input and target alike. A continuous density fitted to such data bounds the
    /// discrete 8-bit likelihood, so its bits per dimension compare with published figures.
    pub fn with_dequantization(mut self, dequantize: bool) -> Self {
        self.dequantize = dequantize;
        self
    }

    /// Whether values are uniformly dequantized.
    pub fn dequantizes(&self) -> bool {
        self.dequantize
    }

    /// Like [`AeBatcher::new`], but first validates the corruptions and the
    /// consistency of the data set.
    pub fn try_new(
        data: Arc<Dataset>,
        corruptions: Vec<Corruption>,
        binarize: bool,
        seed: u64,
    ) -> Result<Self> {
        data.check()?;
        for c in &corruptions {
            c.validate()?;
        }
        if binarize && data.is_paired() {
            return Err(DataError::invalid(
                "binarization is not supported for paired data (targets would stay continuous)",
            ));
        }
        Ok(Self::new(data, corruptions, binarize, seed))
    }

    /// The data set.
    pub fn data(&self) -> &Arc<Dataset> {
        &self.data
    }

    /// The corruptions applied to inputs, in order.
    pub fn corruptions(&self) -> &[Corruption] {
        &self.corruptions
    }

    /// Whether inputs are dynamically binarized.
    pub fn binarizes(&self) -> bool {
        self.binarize
    }

    /// The base seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The CPU part of batching, reusable for evaluation and pictures:
    /// returns `(input, target)`, row-major `[indices.len(), dim]` and
    /// `[indices.len(), target_dim]`.
    ///
    /// The target is the clean item (binarized when binarizing) or its paired
    /// target; the input is that same clean (binarized) item with the
    /// corruptions applied in order. Panics if an index is out of range.
    pub fn assemble(&self, indices: &[usize]) -> (Vec<f32>, Vec<f32>) {
        let data = &*self.data;
        let n = indices.len();
        let paired = data.is_paired();
        let mut input = Vec::with_capacity(n * data.dim());
        for &i in indices {
            data.extend_with_input(i, &mut input);
        }
        let mut rng = ChaCha12Rng::seed_from_u64(batch_seed(self.seed, indices));
        if self.binarize {
            binarize(&mut input, &mut rng);
        } else if self.dequantize {
            dequantize(&mut input, &mut rng);
        }
        let target = if paired {
            let mut target = Vec::with_capacity(n * data.target_dim());
            for &i in indices {
                data.extend_with_target(i, &mut target);
            }
            target
        } else {
            input.clone()
        };
        let range = if self.binarize {
            Some((0.0, 1.0))
        } else {
            data.value_range
        };
        for c in &self.corruptions {
            c.apply(&mut input, range, &mut rng);
        }
        (input, target)
    }
}

impl<B: Backend> Batcher<B, usize, AeBatch<B>> for AeBatcher {
    fn batch(&self, items: Vec<usize>, device: &Device<B>) -> AeBatch<B> {
        let n = items.len();
        let (input, target) = self.assemble(&items);
        let input = Tensor::from_data(TensorData::new(input, [n, self.data.dim()]), device);
        let target =
            Tensor::from_data(TensorData::new(target, [n, self.data.target_dim()]), device);
        let labels = self.data.labels.as_ref().map(|labels| {
            let ids: Vec<i64> = items.iter().map(|&i| i64::from(labels[i])).collect();
            Tensor::from_data(TensorData::new(ids, [n]), device)
        });
        AeBatch {
            input,
            target,
            labels,
        }
    }
}

/// A data set of the indices `0..len`, to feed an [`AeBatcher`] through
/// burn's data loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDataset {
    len: usize,
    first: usize,
    stride: usize,
}

impl IndexDataset {
    /// The indices `0..len`.
    pub fn new(len: usize) -> Self {
        Self {
            len,
            first: 0,
            stride: 1,
        }
    }

    /// Shard `rank` of `shards` over `0..total`: every `shards`-th index from `rank`, and the
    /// same number of them in every shard (`total / shards`; the last `total % shards`
    /// indices are left out), so that ranks training side by side take the same number of
    /// steps.
    pub fn shard(total: usize, rank: usize, shards: usize) -> Self {
        let shards = shards.max(1);
        Self {
            len: total / shards,
            first: rank.min(shards - 1),
            stride: shards,
        }
    }
}

impl burn::data::dataset::Dataset<usize> for IndexDataset {
    fn get(&self, index: usize) -> Option<usize> {
        (index < self.len).then_some(self.first + index * self.stride)
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ImageShape;
    use burn::data::dataset::Dataset as _;

    #[test]
    fn shards_are_disjoint_equal_and_cover_all_but_the_remainder() {
        let shards: Vec<Vec<usize>> = (0..3)
            .map(|r| {
                let d = IndexDataset::shard(11, r, 3);
                (0..d.len()).filter_map(|i| d.get(i)).collect()
            })
            .collect();
        assert_eq!(shards[0], vec![0, 3, 6]);
        assert_eq!(shards[1], vec![1, 4, 7]);
        assert_eq!(shards[2], vec![2, 5, 8]);
        assert_eq!(IndexDataset::shard(11, 2, 3).get(3), None);
        let whole = IndexDataset::shard(5, 0, 1);
        assert_eq!(
            (0..5).filter_map(|i| whole.get(i)).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
    }
    use burn_flex::{Flex, FlexDevice};

    fn grey_data(n: usize, dim: usize) -> Arc<Dataset> {
        let inputs = (0..n * dim)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let mut d = Dataset::from_inputs(ImageShape::flat(dim), inputs, Some((0.0, 1.0))).unwrap();
        d.labels = Some((0..n as u32).map(|i| i % 4).collect());
        Arc::new(d)
    }

    #[test]
    fn same_indices_and_seed_same_batch() {
        let data = grey_data(50, 64);
        let c = vec![
            Corruption::Gaussian { sigma: 0.1 },
            Corruption::Masking { p: 0.2 },
        ];
        let b = AeBatcher::try_new(data.clone(), c.clone(), false, 11).unwrap();
        let idx = [3, 7, 1, 42];
        let (i1, t1) = b.assemble(&idx);
        let (i2, t2) = b.clone().assemble(&idx);
        assert_eq!(i1, i2);
        assert_eq!(t1, t2);
        // Other composition or seed: other noise.
        let (i3, _) = b.assemble(&[3, 7, 1, 43]);
        assert_ne!(&i1[..3 * 64], &i3[..3 * 64]);
        let (i4, _) = AeBatcher::new(data, c, false, 12).assemble(&idx);
        assert_ne!(i1, i4);
    }

    #[test]
    fn target_is_clean_input_is_corrupted() {
        let data = grey_data(20, 32);
        let b = AeBatcher::new(data.clone(), vec![Corruption::Masking { p: 0.5 }], false, 0);
        let idx = [5, 0, 19];
        let (input, target) = b.assemble(&idx);
        for (row, &i) in idx.iter().enumerate() {
            assert_eq!(target[row * 32..(row + 1) * 32], *data.input(i));
            for (x, t) in input[row * 32..(row + 1) * 32]
                .iter()
                .zip(data.input(i).iter())
            {
                assert!(*x == 0.0 || x == t);
            }
        }
        assert_ne!(input, target);
        // Without corruptions the input is the clean item.
        let (input, target) = AeBatcher::new(data, vec![], false, 0).assemble(&idx);
        assert_eq!(input, target);
    }

    #[test]
    fn binarize_yields_bits_with_data_mean() {
        let data = grey_data(400, 100);
        let b = AeBatcher::new(data.clone(), vec![], true, 3);
        let idx: Vec<usize> = (0..400).collect();
        let (input, target) = b.assemble(&idx);
        assert!(target.iter().all(|&v| v == 0.0 || v == 1.0));
        assert_eq!(input, target);
        let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
        assert!((mean(&target) - mean(&data.inputs.to_f32())).abs() < 0.01);
        // Salt-and-pepper on binarized data keeps bits.
        let b = AeBatcher::new(data, vec![Corruption::SaltAndPepper { p: 0.3 }], true, 3);
        let (input, _) = b.assemble(&idx);
        assert!(input.iter().all(|&v| v == 0.0 || v == 1.0));
    }

    #[test]
    fn paired_targets_are_used() {
        let mut d = Dataset::from_inputs(
            ImageShape::flat(2),
            vec![0.1, 0.2, 0.3, 0.4],
            Some((0.0, 1.0)),
        )
        .unwrap();
        d.targets = Some(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        d.target_shape = Some(ImageShape::flat(3));
        let b = AeBatcher::try_new(Arc::new(d.clone()), vec![], false, 0).unwrap();
        let (input, target) = b.assemble(&[1, 0]);
        assert_eq!(input, vec![0.3, 0.4, 0.1, 0.2]);
        assert_eq!(target, vec![4.0, 5.0, 6.0, 1.0, 2.0, 3.0]);
        assert!(AeBatcher::try_new(Arc::new(d), vec![], true, 0).is_err());
    }

    #[test]
    fn try_new_validates_corruptions() {
        let msg = AeBatcher::try_new(
            grey_data(2, 2),
            vec![Corruption::Masking { p: 2.0 }],
            false,
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("masking"), "{msg}");
    }

    #[test]
    fn batch_tensors_have_shapes_and_values() {
        let data = grey_data(10, 6);
        let b = AeBatcher::new(
            data.clone(),
            vec![Corruption::Gaussian { sigma: 0.5 }],
            false,
            1,
        );
        let device = FlexDevice;
        let items = vec![9, 2, 4];
        let batch: AeBatch<Flex> = b.batch(items.clone(), &device);
        assert_eq!(batch.input.dims(), [3, 6]);
        assert_eq!(batch.target.dims(), [3, 6]);
        let target = batch.target.into_data().to_vec::<f32>().unwrap();
        let (input, expected_target) = b.assemble(&items);
        assert_eq!(target, expected_target);
        assert_eq!(batch.input.into_data().to_vec::<f32>().unwrap(), input);
        let labels = batch
            .labels
            .unwrap()
            .into_data()
            .convert::<i64>()
            .to_vec::<i64>()
            .unwrap();
        assert_eq!(labels, vec![1, 2, 0]);
    }

    #[test]
    fn index_dataset() {
        let d = IndexDataset::new(3);
        assert_eq!(d.len(), 3);
        assert_eq!(d.get(2), Some(2));
        assert_eq!(d.get(3), None);
        assert_eq!(d.iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    }
}
