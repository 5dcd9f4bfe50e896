//! Augmentation drawn fresh every epoch, instead of the paper's fixed noisy copies.
//!
//! The paper adds three AWGN copies per clip once, before training, so the network sees the
//! same noise 200 times. Here the training clips' audio stays in memory and every epoch makes
//! `copies` new augmented maps of each clip from [`AugmentPolicy`] (speed, room, noise,
//! channel, level, timing, then masks), through the run's own feature pipeline. Draws are
//! seeded from the epoch's seed and the clip's id, so a resumed run sees what an uninterrupted
//! one would.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sermo_dsp::{Audio, AugmentPolicy, FeatureConfig, FeatureExtractor, decode_file, mask_map};

use crate::{Clip, DataError, LabelSet, MapItem, clip_seed};

/// Fresh augmentation of a run: recorded in its config.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreshAugment {
    /// Augmented maps per training clip per epoch (besides the clean map).
    pub copies: usize,
    /// What each copy draws from.
    pub policy: AugmentPolicy,
}

/// The decoded audio of the training clips, kept for the run.
pub struct TrainAudio {
    ids: Vec<String>,
    labels: Vec<usize>,
    audio: Vec<Audio>,
}

impl TrainAudio {
    /// Decodes `clips` (from their paths: clips of an [`crate::Index`] the sources were loaded
    /// into, not a cache's), in parallel; their targets are their classes in `labels`.
    ///
    /// # Errors
    /// [`DataError::Dataset`] naming the first file that cannot be decoded.
    pub fn load(clips: &[&Clip], labels: LabelSet) -> Result<Self, DataError> {
        let audio = clips
            .par_iter()
            .map(|clip| {
                // The decoder's message names the file.
                decode_file(&clip.path).map_err(|e| DataError::Dataset(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            ids: clips.iter().map(|c| c.id.clone()).collect(),
            labels: clips.iter().map(|c| labels.class(c.label)).collect(),
            audio,
        })
    }

    /// Clips held.
    pub fn len(&self) -> usize {
        self.audio.len()
    }

    /// Whether no clip is held.
    pub fn is_empty(&self) -> bool {
        self.audio.is_empty()
    }

    /// One epoch's augmented maps (raw, unscaled, as the cache's): `fresh.copies` per clip, in
    /// clip order, drawn from `seed`.
    ///
    /// # Errors
    /// [`DataError::Dataset`] when a shift or the features fail on a clip (named).
    pub fn epoch(
        &self,
        fresh: &FreshAugment,
        features: &FeatureConfig,
        seed: u64,
    ) -> Result<Vec<MapItem>, DataError> {
        let fail = |id: &str, e: &dyn std::fmt::Display| DataError::Dataset(format!("{id}: {e}"));
        let jobs: Vec<(usize, usize)> = (0..self.len())
            .flat_map(|i| (0..fresh.copies).map(move |k| (i, k)))
            .collect();
        jobs.par_iter()
            .map_init(
                || FeatureExtractor::new(features),
                |extractor, &(i, k)| {
                    let id = &self.ids[i];
                    let extractor = extractor.as_mut().map_err(|e| fail(id, e))?;
                    let clip = &self.audio[i];
                    let mut rng = ChaCha8Rng::seed_from_u64(clip_seed(seed, &format!("{id}#{k}")));
                    let shifted = fresh
                        .policy
                        .apply(&clip.samples, clip.sample_rate, &mut rng)
                        .map_err(|e| fail(id, &e))?;
                    let mut map = extractor
                        .extract(&Audio::new(shifted, clip.sample_rate))
                        .map_err(|e| fail(id, &e))?
                        .map;
                    mask_map(
                        &mut map,
                        features.n_mfcc,
                        fresh.policy.time_masks,
                        fresh.policy.coeff_masks,
                        &mut rng,
                    );
                    Ok(MapItem {
                        map,
                        label: self.labels[i],
                    })
                },
            )
            .collect()
    }
}
