//! Protocols keep splits disjoint; the feature cache is reused, verified, exported and imported;
//! a RAVDESS folder's ids, splits and cache key are what they were before other corpora.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

use sermo_data::synthetic::{SyntheticSpec, write_dataset};
use sermo_data::{CacheSpec, Example, FeatureCache, Index, LabelMap, Protocol};
use sermo_dsp::{AugmentConfig, FeatureConfig};
use sha2::{Digest, Sha256};

fn index_of_24_actors() -> (tempfile::TempDir, Index) {
    let dir = tempfile::tempdir().unwrap();
    // File names are all the index needs; tiny clips keep this fast.
    let spec = SyntheticSpec {
        actors: 24,
        seconds: 0.05,
        ..SyntheticSpec::default()
    };
    write_dataset(dir.path(), &spec, true).unwrap();
    let index = Index::scan(dir.path()).unwrap();
    (dir, index)
}

/// A small dataset of `actors` actors (normal intensity only, `seconds` per clip) under `root`,
/// and a cache spec with `copies` noisy copies: what the cache tests build from.
fn small_dataset(
    root: &Path,
    actors: u8,
    seconds: f32,
    copies: usize,
    seed: u64,
) -> (Index, CacheSpec) {
    let spec = SyntheticSpec {
        actors,
        seconds,
        ..SyntheticSpec::default()
    };
    write_dataset(root, &spec, false).unwrap();
    let cache_spec = CacheSpec {
        features: FeatureConfig::default(),
        augment: AugmentConfig {
            copies,
            ..AugmentConfig::default()
        },
        seed,
    };
    (Index::scan(root).unwrap(), cache_spec)
}

fn clips(xs: &[Example]) -> BTreeSet<usize> {
    xs.iter().map(|e| e.clip).collect()
}

#[test]
fn paper_protocol_is_stratified_and_disjoint() {
    let (_dir, index) = index_of_24_actors();
    assert_eq!(index.clips.len(), 24 * (4 + 7 * 8));
    let split = Protocol::Paper.split(&index, 3, 0).unwrap();
    let (tr, va, te) = (clips(&split.train), clips(&split.valid), clips(&split.test));
    assert!(tr.is_disjoint(&va) && tr.is_disjoint(&te) && va.is_disjoint(&te));
    assert_eq!(tr.len() + va.len() + te.len(), index.clips.len());
    // Noisy copies travel with their clip into every split.
    assert_eq!(split.test.len(), te.len() * 4);
    // About 10 % of each emotion in test.
    for emotion in 1..=8u8 {
        let n = index
            .clips
            .iter()
            .filter(|c| c.info.unwrap().emotion == emotion)
            .count();
        let t = te
            .iter()
            .filter(|&&c| index.clips[c].info.unwrap().emotion == emotion)
            .count();
        assert_eq!(t, (n as f64 * 0.1).round() as usize);
    }
    // Seeded: same seed, same split; another seed, another split.
    assert_eq!(split, Protocol::Paper.split(&index, 3, 0).unwrap());
    assert_ne!(
        split.test,
        Protocol::Paper.split(&index, 3, 1).unwrap().test
    );
}

#[test]
fn actor_protocol_never_shares_a_speaker() {
    let (_dir, index) = index_of_24_actors();
    for fold in 0..6 {
        let split = Protocol::actor_fold(fold).split(&index, 3, 0).unwrap();
        let actors = |xs: &[Example]| {
            xs.iter()
                .map(|e| index.clips[e.clip].info.unwrap().actor)
                .collect::<BTreeSet<_>>()
        };
        let (a, b, c) = (
            actors(&split.train),
            actors(&split.valid),
            actors(&split.test),
        );
        assert!(a.is_disjoint(&b) && a.is_disjoint(&c) && b.is_disjoint(&c));
        assert_eq!(c.len(), 4);
        assert_eq!(b.len(), 2);
        assert_eq!(a.len(), 18);
        // Clean clips only outside training.
        assert!(split.test.iter().chain(&split.valid).all(|e| e.copy == 0));
        assert!(split.train.iter().any(|e| e.copy == 3));
    }
    let split = Protocol::actor_fold(0).split(&index, 0, 0).unwrap();
    assert_eq!(split.test_actors, vec![1, 2, 3, 4]);
    assert_eq!(split.valid_actors, vec![5, 6]);
    assert!(Protocol::actor_fold(6).split(&index, 0, 0).is_err());
}

#[test]
fn cache_is_reused_verified_exported_and_imported() {
    let dir = tempfile::tempdir().unwrap();
    let (index, cache_spec) = small_dataset(&dir.path().join("data"), 2, 1.0, 2, 5);
    let root = dir.path().join("cache");
    let a = FeatureCache::load_or_build(&index, &cache_spec, &root, false, &|_, _| {}).unwrap();
    assert_eq!(a.len(), index.clips.len());
    let clean = a.map(Example { clip: 0, copy: 0 }).unwrap().to_vec();
    let noisy = a.map(Example { clip: 0, copy: 1 }).unwrap().to_vec();
    assert_eq!(clean.len(), 40 * 282);
    assert_ne!(clean, noisy);

    // Reused: a second load reads the same data (and does not recompute).
    let b = FeatureCache::load_or_build(&index, &cache_spec, &root, false, &|_, _| {
        panic!("recomputed")
    })
    .unwrap();
    assert_eq!(b.manifest, a.manifest);

    // Another seed is another cache.
    let other = CacheSpec {
        seed: 6,
        ..cache_spec.clone()
    };
    assert_ne!(FeatureCache::key(&index, &other).unwrap(), a.manifest.key);

    // Corrupt data is detected and rebuilt, not trusted.
    let data_file = root.join(&a.manifest.key).join("features.f32");
    let mut bytes = std::fs::read(&data_file).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&data_file, &bytes).unwrap();
    assert!(FeatureCache::open(&root.join(&a.manifest.key)).is_err());
    let c = FeatureCache::load_or_build(&index, &cache_spec, &root, false, &|_, _| {}).unwrap();
    assert_eq!(c.map(Example { clip: 0, copy: 0 }).unwrap(), &clean[..]);

    // Export in small parts, import elsewhere, verified.
    let export = dir.path().join("export");
    let manifest = a.export(&export, 100_000).unwrap();
    assert!(manifest.parts.len() > 1);
    assert!(manifest.parts.iter().all(|(_, len, _)| *len <= 100_000));
    let imported = FeatureCache::import(&export, &dir.path().join("elsewhere")).unwrap();
    assert_eq!(imported.manifest, a.manifest);
    assert_eq!(
        imported.map(Example { clip: 1, copy: 2 }),
        a.map(Example { clip: 1, copy: 2 })
    );

    // A damaged part is refused.
    let part = export.join(&manifest.parts[0].0);
    let mut bytes = std::fs::read(&part).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&part, bytes).unwrap();
    let e = FeatureCache::import(&export, &dir.path().join("again")).unwrap_err();
    assert!(e.to_string().contains("hash"), "{e}");
}

/// Paired training runs on one machine build the same feature cache at once: every writer of
/// the same file must succeed, leave one whole version and no temporary files behind.
#[test]
fn concurrent_atomic_writes_of_one_file_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("features.f32");
    let versions: Vec<Vec<u8>> = (0..8u8).map(|t| vec![t; 64 * 1024]).collect();
    std::thread::scope(|s| {
        for bytes in &versions {
            let path = &path;
            s.spawn(move || {
                for _ in 0..20 {
                    sermo_data::write_atomic(path, bytes).unwrap();
                }
            });
        }
    });
    assert!(versions.contains(&std::fs::read(&path).unwrap()));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["features.f32"]);
}

/// Two runs that start at once both get the cache (each computes it; the files agree).
#[test]
fn two_builders_of_one_cache_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let copies = AugmentConfig::default().copies;
    let (index, cache_spec) = small_dataset(&dir.path().join("data"), 2, 0.5, copies, 1);
    let root = dir.path().join("cache");
    let built: Vec<FeatureCache> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    FeatureCache::load_or_build(&index, &cache_spec, &root, false, &|_, _| {})
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert_eq!(built[0].manifest, built[1].manifest);
    let reopened = FeatureCache::open(&root.join(&built[0].manifest.key)).unwrap();
    assert_eq!(reopened.manifest, built[0].manifest);
}

fn sha(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// RAVDESS-named WAVs whose samples are integers made without floating point: the same bytes
/// on every machine, so their cache key is too.
fn write_integer_clips(root: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    for actor in 1..=2u32 {
        let dir = root.join(format!("Actor_{actor:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for emotion in 1..=8u32 {
            for statement in 1..=2u32 {
                let name = format!("03-01-{emotion:02}-01-{statement:02}-01-{actor:02}.wav");
                let mut w = hound::WavWriter::create(dir.join(name), spec).unwrap();
                for i in 0..200u32 {
                    let v = (i * 31 + actor * 7 + emotion * 13 + statement) % 2000;
                    w.write_sample(v as i16 - 1000).unwrap();
                }
                w.finalize().unwrap();
            }
        }
    }
}

/// What `paper` and `actor` give a RAVDESS folder (clip ids, splits) and the feature cache key of
/// a RAVDESS folder, pinned to the values computed before other corpora existed (commit
/// 9fa61a9): loading corpora as data must not move a RAVDESS run's split or its cache. The same
/// through [`Index::load`], the path `sermo train --data` takes.
#[test]
fn ravdess_ids_splits_and_cache_key_are_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SyntheticSpec {
        actors: 24,
        seconds: 0.05,
        ..SyntheticSpec::default()
    };
    write_dataset(&dir.path().join("synth"), &spec, true).unwrap();
    let index = Index::scan(&dir.path().join("synth")).unwrap();
    let loaded = Index::load(&[dir.path().join("synth")], &LabelMap::default()).unwrap();
    assert_eq!(loaded.clips, index.clips);
    let ids: Vec<&str> = index.clips.iter().map(|c| c.id.as_str()).collect();
    let mut splits =
        vec![serde_json::to_string(&Protocol::Paper.split(&index, 3, 0).unwrap()).unwrap()];
    splits.push(serde_json::to_string(&Protocol::Paper.split(&index, 3, 7).unwrap()).unwrap());
    for fold in 0..6 {
        let split = Protocol::actor_fold(fold).split(&index, 3, 0).unwrap();
        splits.push(serde_json::to_string(&split).unwrap());
    }
    let got_ids = sha(&ids.join("\n"));
    let got_splits = sha(&splits.join("\n"));

    write_integer_clips(&dir.path().join("ints"));
    let ints = Index::scan(&dir.path().join("ints")).unwrap();
    let cache_spec = CacheSpec {
        features: FeatureConfig::default(),
        augment: AugmentConfig::default(),
        seed: 0,
    };
    let got_key = FeatureCache::key(&ints, &cache_spec).unwrap();
    assert_eq!(
        got_ids,
        "06167e97dd0ee06ab2f7eaeaebdb07ee561b0266d43bbe4e1488839b155560dd"
    );
    assert_eq!(
        got_splits,
        "af31559ccc1c94e5f057251cc106ecc2953248382ab3ca026bc780535bdcb123"
    );
    assert_eq!(
        got_key,
        "e710bb1d59fa88f0c8c3cb2f0751ccbe872b0b4ef3427cd355861eb96e8894cb"
    );
}
