//! Evaluation protocols: which clips (and which of their noisy copies) train, validate and test.
//!
//! - [`Protocol::Paper`]: as published — clips split per emotion 80/10/10 (speaker-dependent:
//!   every actor appears in every split), and the noisy copies of each clip go with it into its
//!   split, as the paper's code did (so test also holds noisy maps). Splitting clips first keeps a
//!   noisy copy of a test clip out of training.
//! - [`Protocol::Actor`]: k-fold by actor — no test speaker is heard in training. Noisy copies in
//!   training only; validation and test score clean clips.
//!
//! [`ProtocolKind`] names them for command lines (`sermo --protocol`), with their help, so that
//! a protocol is defined here once.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{DataError, Index};

/// One training or evaluation example: a clip and one of its feature maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Example {
    /// Index into [`Index::clips`] (and the feature cache's clips).
    pub clip: usize,
    /// 0 = the clean clip, 1..=k = its k noisy copies.
    pub copy: usize,
}

/// A named protocol and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum Protocol {
    /// Stratified 80/10/10 over clips, noisy copies in every split.
    Paper,
    /// Held-out actors.
    Actor {
        /// Number of folds (24 actors / folds actors each). Default 6.
        folds: usize,
        /// The fold tested (0-based): actors `fold·(24/folds)+1 …`.
        fold: usize,
        /// Explicit test actors, overriding `folds`/`fold`.
        test_actors: Option<Vec<u8>>,
    },
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Paper => write!(f, "paper"),
            Protocol::Actor {
                test_actors: Some(actors),
                ..
            } => write!(f, "actor(test {actors:?})"),
            Protocol::Actor { folds, fold, .. } => write!(f, "actor(fold {fold} of {folds})"),
        }
    }
}

/// The protocols by name, as `sermo --protocol NAME` takes them: the one list of them that the
/// command line, its help and [`Protocol`]'s JSON (`"name"`) share. A new protocol is a variant
/// here (with its name and help) and in [`Protocol`]; the CLI needs at most flags for new
/// parameters in [`ProtocolOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolKind {
    /// `paper`.
    Paper,
    /// `actor`.
    Actor,
}

impl ProtocolKind {
    /// Every protocol, in the order the help lists them.
    pub const ALL: [ProtocolKind; 2] = [ProtocolKind::Paper, ProtocolKind::Actor];

    /// The name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::Paper => "paper",
            ProtocolKind::Actor => "actor",
        }
    }

    /// One line for the command line's help.
    pub fn help(self) -> &'static str {
        match self {
            ProtocolKind::Paper => {
                "Stratified 80/10/10 over clips; noisy copies in every split (as published)"
            }
            ProtocolKind::Actor => {
                "k-fold by actor: test speakers never heard in training; evaluation on clean clips"
            }
        }
    }

    /// The protocol of this name with `options` (those it does not take are ignored).
    pub fn protocol(self, options: &ProtocolOptions) -> Protocol {
        match self {
            ProtocolKind::Paper => Protocol::Paper,
            ProtocolKind::Actor => Protocol::Actor {
                folds: options.folds,
                fold: options.fold,
                test_actors: options.test_actors.clone(),
            },
        }
    }
}

impl fmt::Display for ProtocolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProtocolKind {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, DataError> {
        ProtocolKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                DataError::Protocol(format!(
                    "no protocol is called {s:?} (known: {})",
                    ProtocolKind::ALL.map(ProtocolKind::name).join(", ")
                ))
            })
    }
}

/// The parameters a protocol may take besides its name (`--fold`, `--folds`, `--test-actors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolOptions {
    /// Folds under `actor` (must divide 24). Default: 6 (4 actors each).
    pub folds: usize,
    /// Fold tested under `actor` (0-based). Default: 0.
    pub fold: usize,
    /// Explicit test actors under `actor`, overriding `fold`. Default: none.
    pub test_actors: Option<Vec<u8>>,
}

impl Default for ProtocolOptions {
    fn default() -> Self {
        ProtocolOptions {
            folds: 6,
            fold: 0,
            test_actors: None,
        }
    }
}

/// The three disjoint example sets of a protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Training examples.
    pub train: Vec<Example>,
    /// Validation examples (model selection).
    pub valid: Vec<Example>,
    /// Test examples (touched once, at the end).
    pub test: Vec<Example>,
    /// Actors tested (actor protocol), for reports.
    pub test_actors: Vec<u8>,
    /// Actors validated on (actor protocol), for reports.
    pub valid_actors: Vec<u8>,
}

impl Split {
    /// Checks that no clip (and under `actor`, no actor) is in two splits.
    pub fn check_disjoint(&self, index: &Index, by_actor: bool) -> Result<(), DataError> {
        let clips = |xs: &[Example]| xs.iter().map(|e| e.clip).collect::<BTreeSet<_>>();
        let (tr, va, te) = (clips(&self.train), clips(&self.valid), clips(&self.test));
        if !tr.is_disjoint(&va) || !tr.is_disjoint(&te) || !va.is_disjoint(&te) {
            return Err(DataError::Protocol("a clip is in two splits".into()));
        }
        if by_actor {
            let actors = |s: &BTreeSet<usize>| {
                s.iter()
                    .map(|&c| index.clips[c].info.actor)
                    .collect::<BTreeSet<_>>()
            };
            let (a, b, c) = (actors(&tr), actors(&va), actors(&te));
            if !a.is_disjoint(&b) || !a.is_disjoint(&c) || !b.is_disjoint(&c) {
                return Err(DataError::Protocol("an actor is in two splits".into()));
            }
        }
        Ok(())
    }
}

fn with_copies(clips: &[usize], copies: usize) -> Vec<Example> {
    clips
        .iter()
        .flat_map(|&clip| (0..=copies).map(move |copy| Example { clip, copy }))
        .collect()
}

fn clean(clips: &[usize]) -> Vec<Example> {
    with_copies(clips, 0)
}

impl Protocol {
    /// Which protocol this is.
    pub fn kind(&self) -> ProtocolKind {
        match self {
            Protocol::Paper => ProtocolKind::Paper,
            Protocol::Actor { .. } => ProtocolKind::Actor,
        }
    }

    /// The default actor protocol: fold `fold` of 6.
    pub fn actor_fold(fold: usize) -> Self {
        Protocol::Actor {
            folds: 6,
            fold,
            test_actors: None,
        }
    }

    /// Short name for file names and reports: `paper`, `actor-f0`, `actor-t1-2-3-4`.
    pub fn slug(&self) -> String {
        match self {
            Protocol::Paper => "paper".into(),
            Protocol::Actor {
                test_actors: Some(a),
                ..
            } => format!(
                "actor-t{}",
                a.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("-")
            ),
            Protocol::Actor { fold, .. } => format!("actor-f{fold}"),
        }
    }

    /// Splits `index` (with `copies` noisy copies per clip in the feature cache), seeded.
    pub fn split(&self, index: &Index, copies: usize, seed: u64) -> Result<Split, DataError> {
        let split = match self {
            Protocol::Paper => paper(index, copies, seed),
            Protocol::Actor {
                folds,
                fold,
                test_actors,
            } => actor(index, copies, *folds, *fold, test_actors.as_deref())?,
        };
        split.check_disjoint(index, matches!(self, Protocol::Actor { .. }))?;
        if split.train.is_empty() || split.valid.is_empty() || split.test.is_empty() {
            return Err(DataError::Protocol(format!(
                "{self} leaves a split empty ({} train, {} valid, {} test examples)",
                split.train.len(),
                split.valid.len(),
                split.test.len()
            )));
        }
        Ok(split)
    }
}

/// Per emotion: shuffle its clips (seeded), take 10 % for test, 10 % for validation, the rest
/// for training. Every copy of a clip goes with the clip.
fn paper(index: &Index, copies: usize, seed: u64) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for emotion in 1..=8u8 {
        let mut clips: Vec<usize> = (0..index.clips.len())
            .filter(|&i| index.clips[i].info.emotion == emotion)
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
        test_actors: Vec::new(),
        valid_actors: Vec::new(),
    }
}

/// Test actors: the fold's block of actors (or the explicit list); validation actors: the two
/// actors that follow the test block, cyclically; training: everyone else.
fn actor(
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
            .filter(|&i| actors.contains(&index.clips[i].info.actor))
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
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A name read back gives the same protocol, and it is the name [`Protocol`]'s JSON carries,
    /// so `--protocol NAME`, `Display` and config.json cannot drift apart.
    #[test]
    fn names_round_trip_and_match_the_json_tag() {
        for kind in ProtocolKind::ALL {
            assert_eq!(kind.name().parse::<ProtocolKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.name());
            let protocol = kind.protocol(&ProtocolOptions::default());
            assert_eq!(protocol.kind(), kind);
            let json = serde_json::to_value(&protocol).unwrap();
            assert_eq!(json["name"], kind.name());
        }
        let err = "speaker".parse::<ProtocolKind>().unwrap_err().to_string();
        assert!(err.contains("paper, actor"), "{err}");
    }

    #[test]
    fn options_reach_the_actor_protocol() {
        let options = ProtocolOptions {
            folds: 4,
            fold: 2,
            test_actors: Some(vec![1, 2]),
        };
        assert_eq!(
            ProtocolKind::Actor.protocol(&options),
            Protocol::Actor {
                folds: 4,
                fold: 2,
                test_actors: Some(vec![1, 2]),
            }
        );
        assert_eq!(ProtocolKind::Paper.protocol(&options), Protocol::Paper);
    }
}
