//! The corpora behind `--data` and the feature cache behind `--data`/`--cache`: loaded, found,
//! imported or built (with progress), for `train`, `eval`, `robustness` and `cache export`; and
//! what a run trains on: its examples, the decoded clips fresh augmentation draws from, the
//! scaler fitted on them.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use sermo_data::{
    CacheSpec, Clip, Example, FeatureCache, FreshAugment, Index, LabelSet, Protocol, Split,
    TrainAudio, default_cache_root,
};
use sermo_dsp::{AugmentConfig, FeatureConfig};
use sermo_model::Scaler;

use crate::args::{DataArgs, SourceArgs};

/// Loads every `--data` source into one index, says what each corpus holds, and lists (or,
/// `strict`, refuses) the files skipped.
pub fn load_index(sources: &SourceArgs, strict: bool) -> Result<Index> {
    if sources.data.is_empty() {
        bail!("give --data DIR|MANIFEST (as often as there are corpora)");
    }
    // Its errors name the folder, the manifest and line, or the files.
    let index = Index::load(&sources.data, &sources.label_map())?;
    for (path, reason) in &index.rejected {
        if strict {
            bail!("{}: {reason}", path.display());
        }
        eprintln!("skipping {}: {reason}", path.display());
    }
    if index.clips.is_empty() {
        let names: Vec<String> = sources
            .data
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        bail!("{}: no RAVDESS speech clips found", names.join(", "));
    }
    for (name, corpus) in index.corpora() {
        let emotions: Vec<String> = corpus
            .emotions
            .iter()
            .map(|(emotion, n)| format!("{emotion} {n}"))
            .collect();
        eprintln!(
            "{name}: {} clips, {} speakers; {}",
            corpus.clips,
            corpus.speakers.len(),
            emotions.join(", ")
        );
    }
    Ok(index)
}

/// Loads (or builds) the feature cache the data arguments point at, with the index of the
/// `--data` sources (none for `--cache`). With `protocol`, the sources are split by it before
/// any feature is computed, so a protocol the data cannot meet (`paper` on nEMO, too many
/// folds, an unknown test corpus) is an error at once, not after minutes of features.
pub fn load_cache(
    args: &DataArgs,
    features: &FeatureConfig,
    seed: u64,
    protocol: Option<&Protocol>,
) -> Result<(FeatureCache, Option<Index>)> {
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
        return Ok((cache, None));
    }
    let index = load_index(&args.sources, args.strict)?;
    if let Some(protocol) = protocol {
        protocol.split(&index, args.copies, seed)?;
    }
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
    Ok((cache, Some(index)))
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

/// The training examples of a split of `cache` and, under fresh augmentation, the decoded
/// clips it draws its copies from (their files found in `sources`, the `--data` index: a cache
/// holds maps, not audio), their targets in `labels`. Fresh augmentation trains on the clean
/// maps and augments the decoded audio every epoch, instead of the cache's fixed noisy copies.
pub fn training_examples(
    split: &Split,
    cache: &FeatureCache,
    fresh: Option<&FreshAugment>,
    sources: Option<&Index>,
    labels: LabelSet,
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
    let Some(sources) = sources else {
        bail!("--fresh augments the audio: give --data (a feature cache has none)");
    };
    let by_id: HashMap<&str, &Clip> = sources.clips.iter().map(|c| (c.id.as_str(), c)).collect();
    let clips = examples
        .iter()
        .map(|e| {
            let id = cache.clip(e.clip).map(|c| c.id.as_str()).unwrap_or("?");
            by_id
                .get(id)
                .copied()
                .with_context(|| format!("clip {id} of the feature cache is not in --data"))
        })
        .collect::<Result<Vec<_>>>()?;
    let audio = TrainAudio::load(&clips, labels)?;
    eprintln!(
        "fresh augmentation: {} clips in memory, {} new copies each per epoch",
        audio.len(),
        fresh.copies
    );
    Ok((examples, Some(audio)))
}
