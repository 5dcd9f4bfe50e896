//! Labels: how a corpus's emotion names become sermo's, and which classes a model learns.
//!
//! Every clip keeps one of sermo's eight emotion names ([`EMOTIONS`], RAVDESS's code order:
//! neutral, calm, happy, sad, angry, fearful, disgust, surprised), whatever its corpus calls
//! it. A model learns a [`LabelSet`] of them: the eight, or seven with calm merged into
//! neutral (calm exists only in RAVDESS; on other speech it competes with neutral). The label
//! set is chosen per run and recorded in the artifact, so every front end shows the model's
//! own classes.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
pub use sermo_model::EMOTIONS;

use crate::DataError;

/// Index of `name` (one of sermo's eight, exactly) in [`EMOTIONS`].
pub fn emotion_index(name: &str) -> Option<usize> {
    EMOTIONS.iter().position(|e| *e == name)
}

/// Other corpora's usual names for sermo's emotions (nEMO's among them: anger, fear,
/// happiness, sadness), accepted without a label map.
const SYNONYMS: [(&str, &str); 7] = [
    ("anger", "angry"),
    ("fear", "fearful"),
    ("happiness", "happy"),
    ("sadness", "sad"),
    ("surprise", "surprised"),
    ("disgusted", "disgust"),
    ("fearfulness", "fearful"),
];

/// The classes a model learns, in logit order. Default: [`LabelSet::Eight`].
///
/// Serialised as the number of classes (`8`, `7`), as `--labels` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum LabelSet {
    /// RAVDESS's eight emotions (the paper's).
    #[default]
    Eight,
    /// Seven: calm merged into neutral.
    Seven,
}

impl LabelSet {
    /// Number of classes.
    pub fn len(self) -> usize {
        match self {
            LabelSet::Eight => 8,
            LabelSet::Seven => 7,
        }
    }

    /// Never empty (for clippy's `len_without_is_empty`).
    pub fn is_empty(self) -> bool {
        false
    }

    /// Whether this is the paper's set (left out of a run's config.json, as before it existed).
    pub fn is_default(&self) -> bool {
        *self == LabelSet::Eight
    }

    /// Class names in logit order: what the artifact records.
    pub fn names(self) -> Vec<String> {
        EMOTIONS
            .iter()
            .filter(|name| self == LabelSet::Eight || **name != "calm")
            .map(|s| s.to_string())
            .collect()
    }

    /// The class of a clip whose emotion is `EMOTIONS[emotion]`.
    pub fn class(self, emotion: usize) -> usize {
        match self {
            LabelSet::Eight => emotion,
            // neutral 0, calm 1 → 0; the rest move down by one.
            LabelSet::Seven => emotion.saturating_sub(1),
        }
    }

    /// For each class of a model that learned `model`'s labels, its class in this set: how
    /// an 8-label model is scored on the seven classes (its calm counts as neutral). An error
    /// where this set would split one of the model's classes (a 7-label model scored on 8).
    pub fn classes_from(self, model: LabelSet) -> Result<Vec<usize>, DataError> {
        match (model, self) {
            // The eight classes are the emotions in order: class c is emotion c.
            (LabelSet::Eight, set) => Ok((0..model.len()).map(|c| set.class(c)).collect()),
            (LabelSet::Seven, LabelSet::Seven) => Ok((0..model.len()).collect()),
            (LabelSet::Seven, LabelSet::Eight) => Err(DataError::Dataset(
                "a 7-label model cannot be scored on 8 labels: its neutral holds calm too (score \
                 it on 7)"
                    .to_string(),
            )),
        }
    }

    /// The label set whose names are `labels` (an artifact's), if sermo trains such a set.
    pub fn of_names(labels: &[String]) -> Result<Self, DataError> {
        [LabelSet::Eight, LabelSet::Seven]
            .into_iter()
            .find(|set| set.names() == labels)
            .ok_or_else(|| {
                DataError::Dataset(format!(
                    "the model's labels [{}] are neither sermo's 8 nor its 7 (calm merged into \
                     neutral): its targets cannot be mapped",
                    labels.join(", ")
                ))
            })
    }
}

impl From<LabelSet> for u8 {
    fn from(set: LabelSet) -> u8 {
        set.len() as u8
    }
}

impl TryFrom<u8> for LabelSet {
    type Error = String;

    fn try_from(n: u8) -> Result<Self, String> {
        match n {
            8 => Ok(LabelSet::Eight),
            7 => Ok(LabelSet::Seven),
            _ => Err(format!(
                "label set {n}: sermo trains 8 labels (RAVDESS's) or 7 (calm merged into neutral)"
            )),
        }
    }
}

impl FromStr for LabelSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.trim()
            .parse::<u8>()
            .map_err(|_| format!("{s:?}: give 8 or 7"))
            .and_then(LabelSet::try_from)
    }
}

impl fmt::Display for LabelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.len())
    }
}

/// A corpus's own label names mapped onto sermo's (`--label-map ang=angry,hap=happy,fru=skip`).
///
/// A raw label is looked up (trimmed, case-insensitive) in the map first, then among sermo's
/// names and their usual synonyms (anger, fear, happiness, sadness, surprise, disgusted); a
/// label mapped to `skip` leaves its clips out. Anything else is an error, so a typo never
/// becomes a class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelMap {
    /// Raw label (lower case) → index into [`EMOTIONS`], or `None` to skip.
    map: BTreeMap<String, Option<usize>>,
}

impl LabelMap {
    /// The emotion (index into [`EMOTIONS`]) of a raw label, `None` for a skipped one, or a
    /// message saying why the label is unknown.
    pub fn resolve(&self, raw: &str) -> Result<Option<usize>, String> {
        let key = raw.trim().to_lowercase();
        if let Some(&mapped) = self.map.get(&key) {
            return Ok(mapped);
        }
        let name = SYNONYMS
            .iter()
            .find(|(synonym, _)| *synonym == key)
            .map_or(key.as_str(), |(_, name)| name);
        emotion_index(name).map(Some).ok_or_else(|| {
            format!(
                "unknown label {raw:?} (sermo's labels: {}; map it with --label-map {key}=NAME, \
                 or {key}=skip to leave its clips out)",
                EMOTIONS.join(", ")
            )
        })
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl FromStr for LabelMap {
    type Err = String;

    /// `raw=name` pairs separated by commas; `name` is one of sermo's labels or `skip`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((raw, name)) = pair.split_once('=') else {
                return Err(format!("{pair:?}: expected RAW=NAME (e.g. ang=angry)"));
            };
            let (raw, name) = (raw.trim().to_lowercase(), name.trim().to_lowercase());
            if raw.is_empty() {
                return Err(format!("{pair:?}: the raw label is empty"));
            }
            let target = if name == "skip" {
                None
            } else {
                Some(emotion_index(&name).ok_or_else(|| {
                    format!(
                        "{pair:?}: {name:?} is not one of sermo's labels ({}) nor skip",
                        EMOTIONS.join(", ")
                    )
                })?)
            };
            if map.insert(raw.clone(), target).is_some_and(|t| t != target) {
                return Err(format!("{raw:?} is mapped twice"));
            }
        }
        Ok(LabelMap { map })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn seven_labels_merge_calm_into_neutral() {
        let seven = LabelSet::Seven;
        assert_eq!(seven.names().len(), 7);
        assert_eq!(seven.names()[0], "neutral");
        assert!(!seven.names().contains(&"calm".to_string()));
        for (i, name) in EMOTIONS.iter().enumerate() {
            let class = seven.class(i);
            let expected = if *name == "calm" { "neutral" } else { name };
            assert_eq!(seven.names()[class], expected);
            assert_eq!(LabelSet::Eight.names()[LabelSet::Eight.class(i)], *name);
        }
        assert_eq!(LabelSet::of_names(&seven.names()).unwrap(), seven);
        assert!(LabelSet::of_names(&["a".to_string()]).is_err());
        assert_eq!("7".parse::<LabelSet>().unwrap(), seven);
        assert!("6".parse::<LabelSet>().is_err());
        assert_eq!(serde_json::to_string(&seven).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<LabelSet>("8").unwrap(),
            LabelSet::Eight
        );
    }

    #[test]
    fn an_eight_label_model_is_scored_on_seven_with_calm_as_neutral() {
        let (eight, seven) = (LabelSet::Eight, LabelSet::Seven);
        assert_eq!(seven.classes_from(eight).unwrap(), [0, 0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(
            eight.classes_from(eight).unwrap(),
            (0..8).collect::<Vec<_>>()
        );
        assert_eq!(
            seven.classes_from(seven).unwrap(),
            (0..7).collect::<Vec<_>>()
        );
        let e = eight.classes_from(seven).unwrap_err().to_string();
        assert!(e.contains("cannot be scored on 8"), "{e}");
    }

    #[test]
    fn label_maps_resolve_synonyms_maps_and_skips() {
        let map: LabelMap = "ANG=angry, hap=happy,fru=skip".parse().unwrap();
        assert_eq!(map.resolve("ang").unwrap(), emotion_index("angry"));
        assert_eq!(map.resolve(" Hap ").unwrap(), emotion_index("happy"));
        assert_eq!(map.resolve("fru").unwrap(), None);
        assert_eq!(map.resolve("Anger").unwrap(), emotion_index("angry"));
        assert_eq!(map.resolve("neutral").unwrap(), Some(0));
        let err = map.resolve("xyz").unwrap_err();
        assert!(err.contains("unknown label \"xyz\"") && err.contains("--label-map"));
        assert!("ang".parse::<LabelMap>().is_err());
        assert!(
            "ang=cross"
                .parse::<LabelMap>()
                .unwrap_err()
                .contains("cross")
        );
        assert!("a=happy,a=sad".parse::<LabelMap>().is_err());
    }
}
