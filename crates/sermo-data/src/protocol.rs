//! Evaluation protocols: which clips (and which of their noisy copies) train, validate and test.
//!
//! - [`Protocol::Paper`]: as published — clips split per emotion 80/10/10 (speaker-dependent:
//!   every actor appears in every split), and the noisy copies of each clip go with it into its
//!   split, as the paper's code did (so test also holds noisy maps). Splitting clips first keeps a
//!   noisy copy of a test clip out of training.
//! - [`Protocol::Actor`]: k-fold by actor — no test speaker is heard in training. Noisy copies in
//!   training only; validation and test score clean clips.
//! - [`Protocol::Speaker`]: k-fold over the speakers of every corpus together: each fold tests
//!   whole speakers of every corpus and validates on other whole speakers of every corpus.
//! - [`Protocol::Corpus`]: test on a corpus never trained on; validate on held-out speakers of
//!   the training corpora.
//!
//! `paper` and `actor` read RAVDESS file names (emotion, actor) and refuse other corpora; under
//! every protocol but `paper`, noisy copies train only and validation and test score clean
//! clips. How each splits is in `splits.rs`.
//!
//! [`ProtocolKind`] names them for command lines (`sermo --protocol`), with their help, so that
//! a protocol is defined here once.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::splits::{actor, corpus, paper, speaker};
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
    /// Held-out speakers of every corpus.
    Speaker {
        /// Number of folds: every corpus's speakers (in name order) are cut into this many
        /// contiguous blocks, so every corpus needs at least this many speakers. Default 6.
        folds: usize,
        /// The fold tested (0-based).
        fold: usize,
    },
    /// A held-out corpus.
    Corpus {
        /// The corpus tested (`--test-corpus`), never trained on.
        test_corpus: Option<String>,
        /// Validation speakers of each training corpus: block `fold` of `folds` (as `speaker`
        /// cuts them). Default 6.
        folds: usize,
        /// The block validated on (0-based).
        fold: usize,
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
            Protocol::Speaker { folds, fold } => write!(f, "speaker(fold {fold} of {folds})"),
            Protocol::Corpus {
                test_corpus,
                folds,
                fold,
            } => write!(
                f,
                "corpus(test {}, valid fold {fold} of {folds})",
                test_corpus.as_deref().unwrap_or("?")
            ),
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
    /// `speaker`.
    Speaker,
    /// `corpus`.
    Corpus,
}

impl ProtocolKind {
    /// Every protocol, in the order the help lists them.
    pub const ALL: [ProtocolKind; 4] = [
        ProtocolKind::Paper,
        ProtocolKind::Actor,
        ProtocolKind::Speaker,
        ProtocolKind::Corpus,
    ];

    /// The name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::Paper => "paper",
            ProtocolKind::Actor => "actor",
            ProtocolKind::Speaker => "speaker",
            ProtocolKind::Corpus => "corpus",
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
            ProtocolKind::Speaker => {
                "k-fold over the speakers of every corpus: each fold tests and validates on whole \
                 speakers of every corpus; evaluation on clean clips"
            }
            ProtocolKind::Corpus => {
                "train and validate on some corpora, test on one never trained on (--test-corpus)"
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
            ProtocolKind::Speaker => Protocol::Speaker {
                folds: options.folds,
                fold: options.fold,
            },
            ProtocolKind::Corpus => Protocol::Corpus {
                test_corpus: options.test_corpus.clone(),
                folds: options.folds,
                fold: options.fold,
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

/// The parameters a protocol may take besides its name (`--fold`, `--folds`, `--test-actors`,
/// `--test-corpus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolOptions {
    /// Folds under `actor` (must divide 24), `speaker` and `corpus` (validation blocks).
    /// Default: 6 (4 RAVDESS actors each).
    pub folds: usize,
    /// Fold tested under `actor` and `speaker`, validated on under `corpus` (0-based).
    /// Default: 0.
    pub fold: usize,
    /// Explicit test actors under `actor`, overriding `fold`. Default: none.
    pub test_actors: Option<Vec<u8>>,
    /// The corpus tested under `corpus`. Default: none (the protocol asks for it).
    pub test_corpus: Option<String>,
}

impl Default for ProtocolOptions {
    fn default() -> Self {
        ProtocolOptions {
            folds: 6,
            fold: 0,
            test_actors: None,
            test_corpus: None,
        }
    }
}

/// The three disjoint example sets of a protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Speakers tested, as `corpus/speaker` (`speaker` and `corpus` protocols), for reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_speakers: Vec<String>,
    /// Speakers validated on, as `corpus/speaker` (`speaker` and `corpus` protocols).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub valid_speakers: Vec<String>,
}

impl Split {
    /// Checks that no clip (and, `by_speaker`, no speaker of any corpus) is in two splits.
    pub fn check_disjoint(&self, index: &Index, by_speaker: bool) -> Result<(), DataError> {
        let clips = |xs: &[Example]| xs.iter().map(|e| e.clip).collect::<BTreeSet<_>>();
        let (tr, va, te) = (clips(&self.train), clips(&self.valid), clips(&self.test));
        if !tr.is_disjoint(&va) || !tr.is_disjoint(&te) || !va.is_disjoint(&te) {
            return Err(DataError::Protocol("a clip is in two splits".into()));
        }
        if by_speaker {
            let speakers = |s: &BTreeSet<usize>| {
                s.iter()
                    .filter_map(|&c| index.clips.get(c))
                    .map(|c| (c.corpus.as_str(), c.speaker.as_str()))
                    .collect::<BTreeSet<_>>()
            };
            let (a, b, c) = (speakers(&tr), speakers(&va), speakers(&te));
            if !a.is_disjoint(&b) || !a.is_disjoint(&c) || !b.is_disjoint(&c) {
                return Err(DataError::Protocol("a speaker is in two splits".into()));
            }
        }
        Ok(())
    }
}

impl Protocol {
    /// Which protocol this is.
    pub fn kind(&self) -> ProtocolKind {
        match self {
            Protocol::Paper => ProtocolKind::Paper,
            Protocol::Actor { .. } => ProtocolKind::Actor,
            Protocol::Speaker { .. } => ProtocolKind::Speaker,
            Protocol::Corpus { .. } => ProtocolKind::Corpus,
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

    /// Short name for file names and reports: `paper`, `actor-f0`, `actor-t1-2-3-4`,
    /// `speaker-f0`, `corpus-nemo-f0`.
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
            Protocol::Speaker { fold, .. } => format!("speaker-f{fold}"),
            Protocol::Corpus {
                test_corpus, fold, ..
            } => format!(
                "corpus-{}-f{fold}",
                test_corpus.as_deref().unwrap_or("none")
            ),
        }
    }

    /// Splits `index` (with `copies` noisy copies per clip in the feature cache), seeded (only
    /// `paper` draws; the others hold out speakers in name order).
    ///
    /// # Errors
    /// `paper` and `actor` on clips that are not RAVDESS's, parameters the data cannot meet
    /// (too few speakers for the folds, an unknown test corpus), and an empty split.
    pub fn split(&self, index: &Index, copies: usize, seed: u64) -> Result<Split, DataError> {
        if matches!(self, Protocol::Paper | Protocol::Actor { .. }) && !index.is_ravdess_only() {
            let corpora: BTreeSet<&str> = index
                .clips
                .iter()
                .filter(|c| !c.named_by_ravdess())
                .map(|c| c.corpus.as_str())
                .collect();
            return Err(DataError::Protocol(format!(
                "{} splits RAVDESS by what its file names say (emotion, actor), but the data \
                 holds other corpora ({}): use --protocol speaker or --protocol corpus",
                self.kind(),
                corpora.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        let split = match self {
            Protocol::Paper => paper(index, copies, seed),
            Protocol::Actor {
                folds,
                fold,
                test_actors,
            } => actor(index, copies, *folds, *fold, test_actors.as_deref())?,
            Protocol::Speaker { folds, fold } => speaker(index, copies, *folds, *fold)?,
            Protocol::Corpus {
                test_corpus,
                folds,
                fold,
            } => corpus(index, copies, test_corpus.as_deref(), *folds, *fold)?,
        };
        split.check_disjoint(index, !matches!(self, Protocol::Paper))?;
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
        let err = "speakers".parse::<ProtocolKind>().unwrap_err().to_string();
        assert!(err.contains("paper, actor, speaker, corpus"), "{err}");
    }

    #[test]
    fn options_reach_the_actor_protocol() {
        let options = ProtocolOptions {
            folds: 4,
            fold: 2,
            test_actors: Some(vec![1, 2]),
            test_corpus: Some("nemo".into()),
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
        assert_eq!(
            ProtocolKind::Speaker.protocol(&options),
            Protocol::Speaker { folds: 4, fold: 2 }
        );
        assert_eq!(
            ProtocolKind::Corpus.protocol(&options).slug(),
            "corpus-nemo-f2"
        );
    }
}
