//! burn's `Dataset` and `Batcher` over the feature cache.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};
use sermo_model::Scaler;
use sermo_model::train::Batch;

use crate::{DataError, Example, FeatureCache};

/// One example: a raw (unscaled) MFCC map and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct MapItem {
    /// `n_mfcc × n_frames` values, row-major.
    pub map: Vec<f32>,
    /// Class index.
    pub label: usize,
}

/// The examples of one split, read from the cache.
#[derive(Debug, Clone)]
pub struct MapDataset {
    cache: Arc<FeatureCache>,
    examples: Vec<Example>,
}

impl MapDataset {
    /// A dataset over `examples` of `cache`.
    pub fn new(cache: Arc<FeatureCache>, examples: Vec<Example>) -> Self {
        Self { cache, examples }
    }

    /// The examples, in order.
    pub fn examples(&self) -> &[Example] {
        &self.examples
    }
}

impl Dataset<MapItem> for MapDataset {
    fn get(&self, index: usize) -> Result<MapItem, DatasetError> {
        let example = *self.examples.get(index).ok_or_else(|| {
            DatasetError::new(DataError::Dataset(format!(
                "index {index} is past the {} examples",
                self.examples.len()
            )))
        })?;
        let map = self.cache.map(example).ok_or_else(|| {
            DatasetError::new(DataError::Dataset(format!(
                "example {example:?} is not in the cache"
            )))
        })?;
        let label = self.cache.label(example.clip).ok_or_else(|| {
            DatasetError::new(DataError::Dataset(format!(
                "clip {} has no label",
                example.clip
            )))
        })?;
        Ok(MapItem {
            map: map.to_vec(),
            label,
        })
    }

    fn len(&self) -> usize {
        self.examples.len()
    }
}

/// Standardises maps with the training scaler and stacks them into a [`Batch`].
#[derive(Debug, Clone)]
pub struct MapBatcher {
    scaler: Arc<Scaler>,
    shape: [usize; 2],
}

impl MapBatcher {
    /// A batcher for maps of `shape` (`[n_mfcc, n_frames]`).
    pub fn new(scaler: Arc<Scaler>, shape: [usize; 2]) -> Self {
        Self { scaler, shape }
    }
}

impl Batcher<MapItem, Batch> for MapBatcher {
    fn batch(&self, items: Vec<MapItem>, device: &Device) -> Batch {
        let [h, w] = self.shape;
        let mut inputs = Vec::with_capacity(items.len() * h * w);
        let mut targets = Vec::with_capacity(items.len());
        for item in &items {
            let start = inputs.len();
            inputs.extend_from_slice(&item.map);
            for ((v, m), s) in inputs[start..]
                .iter_mut()
                .zip(&self.scaler.mean)
                .zip(&self.scaler.std)
            {
                *v = (*v - m) / s;
            }
            targets.push(item.label as i64);
        }
        let n = items.len();
        Batch {
            inputs: Tensor::from_data(TensorData::new(inputs, [n, 1, h, w]), device),
            targets: Tensor::<1, Int>::from_data(TensorData::new(targets, [n]), device),
        }
    }
}
