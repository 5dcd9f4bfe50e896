//! How each protocol splits an index (the protocols themselves are in `protocol.rs`).
//!
//! `paper` and `actor` are exactly as they were before other corpora existed (same clips, same
//! order, same seeds), and read only RAVDESS clips. `speaker` and `corpus` hold out whole
//! speakers: every corpus's speakers are taken in name order and cut into `folds` contiguous
//! blocks (RAVDESS's 24 actors into 6 blocks of 4: the blocks `actor` tests), so a fold is
//! the same whatever the seed, and a block of RAVDESS actors holds men and women alike.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::index::speakers;
use crate::{DataError, Example, Index, Split};

fn with_copies(clips: &[usize], copies: usize) -> Vec<Example> {
    clips
        .iter()
        .flat_map(|&clip| (0..=copies).map(move |copy| Example { clip, copy }))
        .collect()
}

fn clean(clips: &[usize]) -> Vec<Example> {
    with_copies(clips, 0)
}

/// Per emotion: shuffle its clips (seeded), take 10 % for test, 10 % for validation, the rest
/// for training. Every copy of a clip goes with the clip.
pub(crate) fn paper(index: &Index, copies: usize, seed: u64) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for emotion in 1..=8u8 {
        let mut clips: Vec<usize> = (0..index.clips.len())
            .filter(|&i| {
                index.clips[i]
                    .info
                    .is_some_and(|info| info.emotion == emotion)
            })
            .collect();
        clips.shuffle(&mut rng);
        let n = clips.len();
        let n_test = (n as f64 * 0.1).round() as usize;
        let n_valid = (n as f64 * 0.1).round() as usize;
        test.extend_from_slice(&clips[..n_test.min(n)]);
        valid.extend_from_slice(&clips[n_test.min(n)..(n_test + n_valid).min(n)]);
        train.extend_from_slice(&clips[(n_test + n_valid).min(n)..]);
    }
    for v in [&mut train, &mut valid, &mut test] {
        v.sort_unstable();
    }
    Split {
        train: with_copies(&train, copies),
        valid: with_copies(&valid, copies),
        test: with_copies(&test, copies),
        ..Split::default()
    }
}

/// Test actors: the fold's block of actors (or the explicit list); validation actors: the two
/// actors that follow the test block, cyclically; training: everyone else.
pub(crate) fn actor(
    index: &Index,
    copies: usize,
    folds: usize,
    fold: usize,
    explicit: Option<&[u8]>,
) -> Result<Split, DataError> {
    let all: Vec<u8> = (1..=24).collect();
    let test_actors: Vec<u8> = match explicit {
        Some(list) => {
            if list.iter().any(|a| !(1..=24).contains(a)) {
                return Err(DataError::Protocol(format!(
                    "test actors {list:?} must be in 1–24"
                )));
            }
            list.iter()
                .copied()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        }
        None => {
            if folds == 0 || !24usize.is_multiple_of(folds) || fold >= folds {
                return Err(DataError::Protocol(format!(
                    "fold {fold} of {folds}: folds must divide 24 actors and fold must be below it"
                )));
            }
            let size = 24 / folds;
            all[fold * size..(fold + 1) * size].to_vec()
        }
    };
    let Some(last) = test_actors.iter().copied().max() else {
        return Err(DataError::Protocol("no test actors given".into()));
    };
    let valid_actors: Vec<u8> = (1..=24u8)
        .map(|k| (last - 1 + k) % 24 + 1)
        .filter(|a| !test_actors.contains(a))
        .take(2)
        .collect();
    let pick = |actors: &[u8]| -> Vec<usize> {
        (0..index.clips.len())
            .filter(|&i| {
                index.clips[i]
                    .info
                    .is_some_and(|info| actors.contains(&info.actor))
            })
            .collect()
    };
    let train_actors: Vec<u8> = all
        .iter()
        .copied()
        .filter(|a| !test_actors.contains(a) && !valid_actors.contains(a))
        .collect();
    Ok(Split {
        train: with_copies(&pick(&train_actors), copies),
        valid: clean(&pick(&valid_actors)),
        test: clean(&pick(&test_actors)),
        test_actors,
        valid_actors,
        ..Split::default()
    })
}

/// Block `fold` of `folds` of `n` speakers in name order: positions `fold·n/folds` up to
/// `(fold+1)·n/folds` (sizes differ by at most one; empty only when `n < folds`).
fn block(n: usize, folds: usize, fold: usize) -> Range<usize> {
    fold * n / folds..(fold + 1) * n / folds
}

/// `corpus/speaker` of every held-out speaker, for reports.
fn named(held: &BTreeSet<(&str, &str)>) -> Vec<String> {
    held.iter().map(|(c, s)| format!("{c}/{s}")).collect()
}

/// The split of `index` that tests the speakers in `test`, validates on those in `valid` (clean
/// clips) and trains on everyone else (with their noisy copies).
fn by_speakers(
    index: &Index,
    copies: usize,
    test: &BTreeSet<(&str, &str)>,
    valid: &BTreeSet<(&str, &str)>,
) -> Split {
    let (mut train_clips, mut valid_clips, mut test_clips) = (Vec::new(), Vec::new(), Vec::new());
    for (i, clip) in index.clips.iter().enumerate() {
        let who = (clip.corpus.as_str(), clip.speaker.as_str());
        if test.contains(&who) {
            test_clips.push(i);
        } else if valid.contains(&who) {
            valid_clips.push(i);
        } else {
            train_clips.push(i);
        }
    }
    Split {
        train: with_copies(&train_clips, copies),
        valid: clean(&valid_clips),
        test: clean(&test_clips),
        test_speakers: named(test),
        valid_speakers: named(valid),
        ..Split::default()
    }
}

/// Per corpus: test the fold's block of speakers; validate on the speakers that follow it,
/// cyclically, half as many as tested (at least one; RAVDESS with 6 folds: 4 tested and 2
/// validated, as `actor`); train on everyone else.
pub(crate) fn speaker(
    index: &Index,
    copies: usize,
    folds: usize,
    fold: usize,
) -> Result<Split, DataError> {
    if folds < 2 || fold >= folds {
        return Err(DataError::Protocol(format!(
            "fold {fold} of {folds}: give at least 2 folds and a fold below their number"
        )));
    }
    let (mut test, mut valid) = (BTreeSet::new(), BTreeSet::new());
    for (corpus, names) in speakers(index) {
        let names: Vec<&str> = names.into_iter().collect();
        let n = names.len();
        if n < folds {
            return Err(DataError::Protocol(format!(
                "corpus {corpus} has {n} speaker(s): --folds {folds} tests speakers of every \
                 corpus in every fold, so every corpus needs at least {folds} (give fewer folds)"
            )));
        }
        let held = block(n, folds, fold);
        let n_valid = (held.len() / 2).max(1);
        let last = held.end - 1;
        test.extend(names[held.clone()].iter().map(|s| (corpus, *s)));
        valid.extend(
            (1..n)
                .map(|k| (last + k) % n)
                .filter(|i| !held.contains(i))
                .take(n_valid)
                .map(|i| (corpus, names[i])),
        );
    }
    Ok(by_speakers(index, copies, &test, &valid))
}

/// Test every clip of `test_corpus`; validate on block `fold` of `folds` of every other
/// corpus's speakers (one speaker where a corpus has fewer speakers than folds); train on the
/// rest of the other corpora.
pub(crate) fn corpus(
    index: &Index,
    copies: usize,
    test_corpus: Option<&str>,
    folds: usize,
    fold: usize,
) -> Result<Split, DataError> {
    let corpora: BTreeMap<&str, BTreeSet<&str>> = speakers(index);
    let names = corpora.keys().copied().collect::<Vec<_>>().join(", ");
    let Some(tested) = test_corpus else {
        return Err(DataError::Protocol(format!(
            "corpus tests on a corpus never trained on: give --test-corpus NAME (the data \
             holds: {names})"
        )));
    };
    if !corpora.contains_key(tested) {
        return Err(DataError::Protocol(format!(
            "no corpus is called {tested:?} (the data holds: {names})"
        )));
    }
    if corpora.len() < 2 {
        return Err(DataError::Protocol(format!(
            "corpus needs another corpus to train on besides {tested} (give --data once more)"
        )));
    }
    if folds == 0 || fold >= folds {
        return Err(DataError::Protocol(format!(
            "fold {fold} of {folds}: the fold must be below the number of folds"
        )));
    }
    let (mut test, mut valid) = (BTreeSet::new(), BTreeSet::new());
    for (corpus, speakers) in &corpora {
        let speakers: Vec<&str> = speakers.iter().copied().collect();
        if corpus == &tested {
            test.extend(speakers.iter().map(|s| (*corpus, *s)));
            continue;
        }
        let n = speakers.len();
        let mut held = block(n, folds, fold);
        if held.is_empty() {
            held = held.start..held.start + 1;
        }
        valid.extend(speakers[held].iter().map(|s| (*corpus, *s)));
    }
    Ok(by_speakers(index, copies, &test, &valid))
}
