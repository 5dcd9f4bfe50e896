//! Across corpora: `speaker` holds out whole speakers of every corpus, `corpus` a whole corpus,
//! `paper` and `actor` refuse what is not RAVDESS; the feature cache keeps every clip's corpus,
//! speaker and emotion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{load, write_manifest, write_ravdess};
use sermo_data::synthetic::{SyntheticSpec, write_dataset};
use sermo_data::{
    CacheSpec, Example, FeatureCache, Index, Protocol, ProtocolKind, ProtocolOptions, emotion_index,
};
use sermo_dsp::{AugmentConfig, FeatureConfig};

/// 24 RAVDESS actors (names only) and a 6-speaker manifest corpus without calm and disgust.
fn two_corpora(dir: &Path) -> Index {
    write_ravdess(&dir.join("ravdess"), 24);
    let tsv = write_manifest(
        dir,
        "other.tsv",
        &["a", "b", "c", "d", "e", "f"],
        &["neutral", "angry", "sad"],
        None,
    );
    load(&[&dir.join("ravdess"), &tsv], "").unwrap()
}

fn speakers_of(index: &Index, xs: &[Example]) -> BTreeSet<(String, String)> {
    xs.iter()
        .map(|e| &index.clips[e.clip])
        .map(|c| (c.corpus.clone(), c.speaker.clone()))
        .collect()
}

#[test]
fn speaker_folds_hold_out_whole_speakers_of_every_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let index = two_corpora(dir.path());
    let mut tested = BTreeSet::new();
    for fold in 0..6 {
        let split = Protocol::Speaker { folds: 6, fold }
            .split(&index, 2, 0)
            .unwrap();
        let (tr, va, te) = (
            speakers_of(&index, &split.train),
            speakers_of(&index, &split.valid),
            speakers_of(&index, &split.test),
        );
        assert!(tr.is_disjoint(&va) && tr.is_disjoint(&te) && va.is_disjoint(&te));
        for corpus in ["ravdess", "other"] {
            assert!(
                te.iter().any(|(c, _)| c == corpus),
                "fold {fold} tests no {corpus} speaker"
            );
            assert!(
                va.iter().any(|(c, _)| c == corpus),
                "fold {fold} validates on no {corpus} speaker"
            );
        }
        // RAVDESS's part is the actor protocol's fold.
        let actor = Protocol::actor_fold(fold)
            .split(&Index::scan(&dir.path().join("ravdess")).unwrap(), 2, 0)
            .unwrap();
        let ravdess_test: Vec<String> = te
            .iter()
            .filter(|(c, _)| c == "ravdess")
            .map(|(_, s)| s.clone())
            .collect();
        let actors: Vec<String> = actor
            .test_actors
            .iter()
            .map(|a| format!("{a:02}"))
            .collect();
        assert_eq!(ravdess_test, actors);
        assert!(split.test.iter().chain(&split.valid).all(|e| e.copy == 0));
        assert!(split.train.iter().any(|e| e.copy == 2));
        assert_eq!(split.test_speakers.len(), te.len());
        assert!(split.test_speakers.iter().any(|s| s.starts_with("other/")));
        tested.extend(te);
    }
    assert_eq!(
        tested.len(),
        24 + 6,
        "every speaker is tested in exactly one fold"
    );
    let err = Protocol::Speaker { folds: 7, fold: 0 }
        .split(&index, 0, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("other") && err.contains("6 speaker"), "{err}");
}

#[test]
fn corpus_protocol_tests_a_corpus_never_trained_on() {
    let dir = tempfile::tempdir().unwrap();
    let index = two_corpora(dir.path());
    let options = |test: Option<&str>| ProtocolOptions {
        test_corpus: test.map(str::to_string),
        ..ProtocolOptions::default()
    };
    let protocol = ProtocolKind::Corpus.protocol(&options(Some("other")));
    let split = protocol.split(&index, 1, 0).unwrap();
    let (tr, va, te) = (
        speakers_of(&index, &split.train),
        speakers_of(&index, &split.valid),
        speakers_of(&index, &split.test),
    );
    assert!(te.iter().all(|(c, _)| c == "other") && te.len() == 6);
    assert!(tr.iter().chain(&va).all(|(c, _)| c == "ravdess"));
    assert_eq!(
        va.len(),
        4,
        "validation: a block of the training corpus's speakers"
    );
    assert!(split.test.iter().chain(&split.valid).all(|e| e.copy == 0));
    let held_in_test = split.test.len();
    assert_eq!(
        held_in_test,
        index.clips.iter().filter(|c| c.corpus == "other").count()
    );
    // And the other way round.
    let back = ProtocolKind::Corpus
        .protocol(&options(Some("ravdess")))
        .split(&index, 0, 0)
        .unwrap();
    assert!(
        speakers_of(&index, &back.train)
            .iter()
            .all(|(c, _)| c == "other")
    );

    for (test, want) in [
        (None, "--test-corpus"),
        (Some("nemo"), "no corpus is called \"nemo\""),
    ] {
        let err = ProtocolKind::Corpus
            .protocol(&options(test))
            .split(&index, 0, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(want) && err.contains("other, ravdess"),
            "{err}"
        );
    }
    let ravdess_only = Index::scan(&dir.path().join("ravdess")).unwrap();
    let err = protocol.split(&ravdess_only, 0, 0).unwrap_err().to_string();
    assert!(err.contains("no corpus is called"), "{err}");
}

#[test]
fn paper_and_actor_refuse_other_corpora() {
    let dir = tempfile::tempdir().unwrap();
    let index = two_corpora(dir.path());
    for protocol in [Protocol::Paper, Protocol::actor_fold(0)] {
        let err = protocol.split(&index, 0, 0).unwrap_err().to_string();
        assert!(
            err.contains("RAVDESS") && err.contains("other") && err.contains("--protocol speaker"),
            "{err}"
        );
    }
}

#[test]
fn the_cache_keeps_corpus_speaker_and_emotion() {
    let dir = tempfile::tempdir().unwrap();
    let ravdess = dir.path().join("ravdess");
    write_dataset(
        &ravdess,
        &SyntheticSpec {
            actors: 1,
            seconds: 0.5,
            ..SyntheticSpec::default()
        },
        false,
    )
    .unwrap();
    let tsv = write_manifest(
        &dir.path().join("m"),
        "extra.tsv",
        &["x1", "x2"],
        &["ang", "sad"],
        None,
    );
    let index = load(&[&ravdess, &tsv], "ang=angry").unwrap();
    let spec = CacheSpec {
        features: FeatureConfig::default(),
        augment: AugmentConfig {
            copies: 1,
            ..AugmentConfig::default()
        },
        seed: 3,
    };
    let root = dir.path().join("cache");
    let built = FeatureCache::load_or_build(&index, &spec, &root, true, &|_, _| {}).unwrap();
    let opened = FeatureCache::open(&root.join(&built.manifest.key)).unwrap();
    for cache in [&built, &opened] {
        let cached = cache.index();
        let what = |i: &Index| {
            i.clips
                .iter()
                .map(|c| {
                    (
                        c.id.clone(),
                        c.corpus.clone(),
                        c.speaker.clone(),
                        c.label,
                        c.info,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(what(&cached), what(&index));
    }
    // RAVDESS entries stay ids alone (as caches always held them); the others say more.
    let entry = |prefix: &str| {
        opened
            .manifest
            .clips
            .iter()
            .find(|c| c.id.starts_with(prefix))
            .unwrap()
            .clone()
    };
    assert!(entry("Actor_01").corpus.is_none());
    let other = entry("extra/");
    assert_eq!(
        (other.corpus.as_deref(), other.speaker.as_deref()),
        (Some("extra"), Some("x1"))
    );
    assert_eq!(other.emotion.as_deref(), Some("angry"));
    assert_eq!(
        opened.label(0),
        emotion_index("angry"),
        "extra sorts before ravdess"
    );
    // The same files with other labels are another cache.
    let relabelled = load(&[&ravdess, &tsv], "ang=fearful").unwrap();
    assert_ne!(
        FeatureCache::key(&relabelled, &spec).unwrap(),
        built.manifest.key
    );
}
