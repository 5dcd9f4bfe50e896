//! The feature cache behind `--data`/`--cache`: found, imported or built (with progress), for
//! `train`, `eval` and `cache export`; and what a run trains on: its examples, the decoded clips
//! fresh augmentation draws from, the scaler fitted on them.

use std::path::Path;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use sermo_data::{
    CacheSpec, Example, FeatureCache, FreshAugment, Index, Split, TrainAudio, default_cache_root,
};
use sermo_dsp::{AugmentConfig, FeatureConfig};
use sermo_model::Scaler;

use crate::args::DataArgs;

/// Loads (or builds) the feature cache the data arguments point at.
pub fn load_cache(args: &DataArgs, features: &FeatureConfig, seed: u64) -> Result<FeatureCache> {
    let root = args.cache_root.clone().unwrap_or_else(default_cache_root);
    if let Some(dir) = &args.cache {
        let cache = if dir.join("export.json").is_file() {
            FeatureCache::import(dir, &root)
        } else {
            FeatureCache::open(dir)
        }
        .with_context(|| format!("reading the feature cache {}", dir.display()))?;
        eprintln!(
            "feature cache {} ({} clips, {} noisy copies each)",
            &cache.manifest.key[..12],
            cache.len(),
            cache.copies()
        );
        return Ok(cache);
    }
    let Some(data) = &args.data else {
        bail!("give --data DIR or --cache DIR");
    };
    let index = Index::scan(data)?; // its errors name the directory or the files
    for (path, reason) in &index.rejected {
        if args.strict {
            bail!("{}: {reason}", path.display());
        }
        eprintln!("skipping {}: {reason}", path.display());
    }
    if index.clips.is_empty() {
        bail!("{}: no RAVDESS speech clips found", data.display());
    }
    eprintln!(
        "{} clips; per emotion {:?}; {} actors",
        index.clips.len(),
        index.per_emotion().values().collect::<Vec<_>>(),
        index.per_actor().len()
    );
    let spec = CacheSpec {
        features: features.clone(),
        augment: AugmentConfig {
            copies: args.copies,
            snr_low: args.snr_low,
            snr_high: args.snr_high,
        },
        seed,
    };
    let bar = ProgressBar::new(index.clips.len() as u64).with_style(
        ProgressStyle::with_template("features {bar:40} {pos}/{len} clips {elapsed}/{duration}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let cache = FeatureCache::load_or_build(&index, &spec, &root, args.strict, &|done, _| {
        bar.set_position(done as u64)
    })
    .context("building the feature cache")?;
    bar.finish_and_clear();
    for (id, reason) in &cache.manifest.failed {
        eprintln!("skipped {id}: {reason}");
    }
    eprintln!(
        "feature cache {} at {}",
        &cache.manifest.key[..12],
        root.join(&cache.manifest.key).display()
    );
    Ok(cache)
}

/// The feature scaler fitted on the training examples' maps only.
pub fn fit_scaler(cache: &FeatureCache, train: &[Example]) -> Result<Scaler> {
    let rows = train
        .iter()
        .map(|e| {
            cache
                .map(*e)
                .context("training example missing from the cache")
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Scaler::fit(rows, cache.map_len())?)
}

/// The training examples of a split and, under fresh augmentation, the decoded clips it draws
/// its copies from (from `data`, the RAVDESS directory). Fresh augmentation trains on the clean
/// maps and augments the decoded audio every epoch, instead of the cache's fixed noisy copies.
pub fn training_examples(
    split: &Split,
    index: &Index,
    fresh: Option<&FreshAugment>,
    data: Option<&Path>,
) -> Result<(Vec<Example>, Option<TrainAudio>)> {
    let Some(fresh) = fresh else {
        return Ok((split.train.clone(), None));
    };
    let examples: Vec<Example> = split
        .train
        .iter()
        .filter(|e| e.copy == 0)
        .copied()
        .collect();
    let Some(root) = data else {
        bail!("--fresh augments the audio: give --data DIR (a feature cache has none)");
    };
    let clips: Vec<usize> = examples.iter().map(|e| e.clip).collect();
    let audio = TrainAudio::load(index, root, &clips)?;
    eprintln!(
        "fresh augmentation: {} clips in memory, {} new copies each per epoch",
        audio.len(),
        fresh.copies
    );
    Ok((examples, Some(audio)))
}
