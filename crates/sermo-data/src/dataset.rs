//! burn's `Dataset` over the feature cache, and the batcher that turns its maps into training
//! batches.

use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};
use sermo_model::train::Batch;
use sermo_model::{Scaler, model_input};

use crate::{DataError, Example, FeatureCache, LabelSet};

/// One example: a raw (unscaled) MFCC map and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct MapItem {
    /// `n_mfcc × n_frames` values, row-major.
    pub map: Vec<f32>,
    /// Class index.
    pub label: usize,
}

/// The examples of one split, read from the cache, with their classes in a label set.
#[derive(Debug, Clone)]
pub struct MapDataset {
    cache: Arc<FeatureCache>,
    examples: Vec<Example>,
    labels: LabelSet,
}

impl MapDataset {
    /// A dataset over `examples` of `cache`, their targets the classes of `labels`.
    pub fn new(cache: Arc<FeatureCache>, examples: Vec<Example>, labels: LabelSet) -> Self {
        Self {
            cache,
            examples,
            labels,
        }
    }

    /// The examples, in order.
    pub fn examples(&self) -> &[Example] {
        &self.examples
    }

    /// The label set the targets are classes of.
    pub fn labels(&self) -> LabelSet {
        self.labels
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
            label: self.labels.class(label),
        })
    }

    fn len(&self) -> usize {
        self.examples.len()
    }
}

/// Standardises maps with the training scaler and stacks them into a [`Batch`], through the
/// same [`model_input`] every classification uses.
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

    /// The batch of `items` on `device`.
    ///
    /// # Errors
    /// [`DataError::Dataset`] when a map does not have the batcher's shape.
    pub fn batch(&self, items: &[MapItem], device: &Device) -> Result<Batch, DataError> {
        let maps = items.iter().map(|item| item.map.as_slice());
        let inputs = model_input(maps, &self.scaler, self.shape, device)
            .map_err(|e| DataError::Dataset(e.to_string()))?;
        let targets: Vec<i64> = items.iter().map(|item| item.label as i64).collect();
        let n = targets.len();
        Ok(Batch {
            inputs,
            targets: Tensor::<1, Int>::from_data(TensorData::new(targets, [n]), device),
        })
    }
}
