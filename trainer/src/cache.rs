//! `sermo cache`: build, export and import feature caches.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sermo_data::{EXPORT_PART_BYTES, FeatureCache, default_cache_root};
use sermo_dsp::FeatureConfig;

use crate::args::DataArgs;
use crate::data::load_cache;

/// `sermo cache`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum CacheCommand {
    /// Compute (or find) the feature cache of a dataset and export it as parts of ≤ 60 MiB
    /// with their SHA-256, for another machine.
    Export {
        #[command(flatten)]
        data: DataArgs,
        /// Seed of the noisy copies (the training run's --seed).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output directory.
        #[arg(short, long)]
        output: PathBuf,
        /// Largest part in MiB (at most 60).
        #[arg(long, default_value_t = 60)]
        part_mib: usize,
    },
    /// Verify an exported cache and install it under the cache root.
    Import {
        /// Directory written by `sermo cache export`.
        dir: PathBuf,
        /// Where feature caches live. Default: $XDG_CACHE_HOME/sermo/features.
        #[arg(long, env = "SERMO_CACHE_DIR")]
        cache_root: Option<PathBuf>,
    },
}

pub fn run(command: &CacheCommand) -> Result<()> {
    match command {
        CacheCommand::Export {
            data,
            seed,
            output,
            part_mib,
        } => {
            let (cache, _) = load_cache(data, &FeatureConfig::default(), *seed, None)?;
            let export = cache
                .export(output, (part_mib * 1024 * 1024).min(EXPORT_PART_BYTES))
                .with_context(|| format!("exporting to {}", output.display()))?;
            eprintln!(
                "exported cache {} ({} clips × {} maps) to {} in {} parts",
                &cache.manifest.key[..12],
                cache.len(),
                cache.copies() + 1,
                output.display(),
                export.parts.len()
            );
        }
        CacheCommand::Import { dir, cache_root } => {
            let root = cache_root.clone().unwrap_or_else(default_cache_root);
            let cache = FeatureCache::import(dir, &root)
                .with_context(|| format!("importing {}", dir.display()))?;
            eprintln!(
                "verified and installed cache {} at {}",
                &cache.manifest.key[..12],
                root.join(&cache.manifest.key).display()
            );
        }
    }
    Ok(())
}
