//! RAVDESS data for sermo: the index of a dataset directory, the evaluation protocols and their
//! splits, the feature cache (computed once, portable), burn's `Dataset` and the batcher.
//! Native only.

mod cache;
mod dataset;
mod error;
mod fresh;
mod index;
mod protocol;
pub mod synthetic;

pub use cache::{
    CacheSpec, CachedClip, EXPORT_PART_BYTES, ExportManifest, FeatureCache, Manifest, clip_seed,
    default_cache_root, write_atomic,
};
pub use dataset::{MapBatcher, MapDataset, MapItem};
pub use error::DataError;
pub use fresh::{FreshAugment, TrainAudio};
pub use index::{Clip, ClipInfo, Index, parse_name};
pub use protocol::{Example, Protocol, ProtocolKind, ProtocolOptions, Split};
