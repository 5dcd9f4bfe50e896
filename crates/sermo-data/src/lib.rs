//! Data for sermo: the corpora (RAVDESS, nEMO, manifests of any other) as one index of clips
//! with their corpus, speaker and emotion; the evaluation protocols and their splits; the
//! feature cache (computed once, portable); burn's `Dataset` and the batcher. Native only.

mod cache;
mod dataset;
mod error;
mod fresh;
mod index;
mod labels;
pub mod manifest;
pub mod nemo;
mod protocol;
pub mod ravdess;
mod splits;
pub mod synthetic;
mod table;

pub use cache::{
    CacheSpec, CachedClip, EXPORT_PART_BYTES, ExportManifest, FeatureCache, Manifest, clip_seed,
    default_cache_root, write_atomic,
};
pub use dataset::{MapBatcher, MapDataset, MapItem};
pub use error::DataError;
pub use fresh::{FreshAugment, TrainAudio};
pub use index::{Clip, CorpusSummary, Index, corpus_credit};
pub use labels::{EMOTIONS, LabelMap, LabelSet, emotion_index};
pub use protocol::{Example, Protocol, ProtocolKind, ProtocolOptions, Split};
pub use ravdess::{ClipInfo, parse_name};
