//! The index of a run's data: every clip with its corpus, speaker and emotion, from any number of
//! sources (`sermo train --data A --data B`).
//!
//! A source is detected by what it is:
//! - a folder holding `data.tsv` is nEMO ([`crate::nemo`]);
//! - any other folder is searched for RAVDESS names ([`crate::ravdess`]);
//! - a `.tsv` or `.csv` file is a manifest ([`crate::manifest`]): path, label, speaker and
//!   optionally corpus, for any other corpus.
//!
//! Corpora are data, not code: a clip is its file, a stable id, a corpus name, a speaker
//! (unique within its corpus) and one of sermo's eight emotions; RAVDESS clips also keep what
//! their names say ([`ClipInfo`]), which the `paper` and `actor` protocols need.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::labels::{EMOTIONS, LabelMap};
use crate::ravdess::{RAVDESS, check_unique_names};
use crate::{ClipInfo, DataError, manifest, nemo, ravdess};

/// One indexed clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// Absolute or caller-relative path of the file.
    pub path: PathBuf,
    /// The clip's stable identity, unique across corpora: cache keys and noise seeds use it, so
    /// results do not depend on where data lives. RAVDESS: the path below the scanned folder
    /// (`Actor_01/03-01-…wav`, as it always was); other corpora: `corpus/path below the corpus
    /// folder or manifest` (`nemo/samples/EB0_anger_1.wav`).
    pub id: String,
    /// The corpus (`ravdess`, `nemo`, a manifest's corpus column or file stem).
    pub corpus: String,
    /// The speaker, unique within its corpus (RAVDESS: the actor, `01` … `24`).
    pub speaker: String,
    /// The emotion: an index into sermo's eight names ([`EMOTIONS`]).
    pub label: usize,
    /// What a RAVDESS file name says (RAVDESS clips only).
    pub info: Option<ClipInfo>,
    /// Hex SHA-256 of the file, when the index has read it (it does when a manifest is among
    /// the sources, to find duplicate files); the cache key reuses it.
    pub sha256: Option<String>,
}

impl Clip {
    /// A RAVDESS clip: corpus `ravdess`, speaker and emotion from its name.
    pub fn ravdess(path: PathBuf, id: String, info: ClipInfo) -> Self {
        Clip {
            path,
            id,
            corpus: RAVDESS.into(),
            speaker: info.speaker(),
            label: info.label(),
            info: Some(info),
            sha256: None,
        }
    }

    /// The emotion's name (one of [`EMOTIONS`]).
    pub fn emotion(&self) -> &'static str {
        EMOTIONS.get(self.label).copied().unwrap_or("?")
    }

    /// Whether everything about the clip follows from its RAVDESS name (corpus `ravdess`): such
    /// clips are recorded in the feature cache by id alone, as before other corpora existed, so
    /// RAVDESS caches keep their keys and manifests.
    pub fn named_by_ravdess(&self) -> bool {
        self.corpus == RAVDESS && self.info.is_some()
    }
}

/// The clips of a run, sorted by corpus name and within a corpus by what RAVDESS names say,
/// then by id, so runs are reproducible on any file system and whatever order `--data` came
/// in; and the files that were skipped, each with the reason.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Usable clips.
    pub clips: Vec<Clip>,
    /// Files skipped, with the reason.
    pub rejected: Vec<(PathBuf, String)>,
}

/// The clips one source gave, with where a manifest named each (for errors that name lines).
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub clips: Vec<Clip>,
    pub rejected: Vec<(PathBuf, String)>,
    /// Per clip: `manifest:line`, for manifest clips.
    pub lines: Vec<Option<String>>,
}

impl Loaded {
    fn from_index(index: Index) -> Self {
        Loaded {
            lines: vec![None; index.clips.len()],
            clips: index.clips,
            rejected: index.rejected,
        }
    }
}

/// What a corpus of an index holds, for the terminal and reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorpusSummary {
    /// Clips.
    pub clips: usize,
    /// Clips per speaker.
    pub speakers: BTreeMap<String, usize>,
    /// Clips per emotion name present.
    pub emotions: BTreeMap<&'static str, usize>,
}

impl Index {
    /// Scans a RAVDESS folder recursively for `03-01-EE-II-SS-RR-AA.wav` (speech only; see
    /// [`crate::ravdess`]). [`Index::load`] gives the same index for a RAVDESS folder.
    pub fn scan(root: &Path) -> Result<Self, DataError> {
        ravdess::scan(root)
    }

    /// Loads every source (a RAVDESS folder, an nEMO folder or a manifest each; see the module
    /// docs) and merges them. `labels` maps manifests' label names onto sermo's.
    ///
    /// # Errors
    /// A source that is none of these, any error of its loader (manifest errors name the line),
    /// two clips with one id, the same RAVDESS clip twice, and a manifest's file whose content
    /// is another clip's (same SHA-256: it could sit in train and test at once).
    pub fn load(sources: &[PathBuf], labels: &LabelMap) -> Result<Self, DataError> {
        let mut loaded = Loaded::default();
        let mut any_manifest = false;
        for source in sources {
            let part = if source.is_dir() {
                if source.join(nemo::DATA_TSV).is_file() {
                    nemo::load(source)?
                } else {
                    Loaded::from_index(ravdess::scan(source)?)
                }
            } else if manifest::is_manifest(source) && source.is_file() {
                any_manifest = true;
                manifest::load(source, labels)?
            } else if !source.exists() {
                return Err(DataError::Dataset(format!(
                    "{}: no such file or directory",
                    source.display()
                )));
            } else {
                return Err(DataError::Dataset(format!(
                    "{}: not a dataset (give a RAVDESS or nEMO folder, or a .tsv/.csv manifest)",
                    source.display()
                )));
            };
            loaded.clips.extend(part.clips);
            loaded.rejected.extend(part.rejected);
            loaded.lines.extend(part.lines);
        }
        if any_manifest {
            hash_files(&mut loaded.clips)?;
            check_duplicate_content(&loaded)?;
        }
        let mut order: Vec<usize> = (0..loaded.clips.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&loaded.clips[a], &loaded.clips[b]);
            (&a.corpus, a.info, &a.id).cmp(&(&b.corpus, b.info, &b.id))
        });
        let mut index = Index {
            clips: order.iter().map(|&i| loaded.clips[i].clone()).collect(),
            rejected: loaded.rejected,
        };
        index.rejected.sort();
        let mut ids: HashMap<&str, &Path> = HashMap::new();
        for clip in &index.clips {
            if let Some(other) = ids.insert(&clip.id, &clip.path) {
                return Err(DataError::Dataset(format!(
                    "{} and {} have the same id {:?} (the same file given twice?)",
                    other.display(),
                    clip.path.display(),
                    clip.id
                )));
            }
        }
        check_unique_names(&index.clips)?;
        Ok(index)
    }

    /// Drops clips, e.g. those that failed to decode, recording why.
    pub fn reject(&mut self, failed: &[(String, String)]) {
        for (id, reason) in failed {
            if let Some(pos) = self.clips.iter().position(|c| &c.id == id) {
                let clip = self.clips.remove(pos);
                self.rejected.push((clip.path, reason.clone()));
            }
        }
    }

    /// Clips per emotion code (1–8) of the RAVDESS clips.
    pub fn per_emotion(&self) -> BTreeMap<u8, usize> {
        let mut counts = BTreeMap::new();
        for info in self.clips.iter().filter_map(|c| c.info) {
            *counts.entry(info.emotion).or_insert(0) += 1;
        }
        counts
    }

    /// Clips per actor (1–24) of the RAVDESS clips.
    pub fn per_actor(&self) -> BTreeMap<u8, usize> {
        let mut counts = BTreeMap::new();
        for info in self.clips.iter().filter_map(|c| c.info) {
            *counts.entry(info.actor).or_insert(0) += 1;
        }
        counts
    }

    /// What each corpus holds, by corpus name.
    pub fn corpora(&self) -> BTreeMap<String, CorpusSummary> {
        let mut corpora: BTreeMap<String, CorpusSummary> = BTreeMap::new();
        for clip in &self.clips {
            let corpus = corpora.entry(clip.corpus.clone()).or_default();
            corpus.clips += 1;
            *corpus.speakers.entry(clip.speaker.clone()).or_insert(0) += 1;
            *corpus.emotions.entry(clip.emotion()).or_insert(0) += 1;
        }
        corpora
    }

    /// Whether every clip is a RAVDESS clip (what `paper` and `actor` split).
    pub fn is_ravdess_only(&self) -> bool {
        self.clips.iter().all(Clip::named_by_ravdess)
    }
}

/// Reads every clip's file once (in parallel) for its SHA-256.
fn hash_files(clips: &mut [Clip]) -> Result<(), DataError> {
    clips.par_iter_mut().try_for_each(|clip| {
        clip.sha256 = Some(crate::cache::sha256_file(&clip.path)?.0);
        Ok(())
    })
}

/// A manifest's file with the content of another clip (from any source) is an error naming its
/// line: a corpus listed twice, or a file copied under another name, would put one recording
/// in training and test. Duplicates among RAVDESS's own files are left as they are (RAVDESS
/// holds one pair of identical recordings, and `paper`'s published splits include both).
fn check_duplicate_content(loaded: &Loaded) -> Result<(), DataError> {
    let mut by_hash: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, clip) in loaded.clips.iter().enumerate() {
        if let Some(hash) = &clip.sha256 {
            by_hash.entry(hash).or_default().push(i);
        }
    }
    let mut groups: Vec<&Vec<usize>> = by_hash.values().filter(|g| g.len() > 1).collect();
    groups.sort();
    let place = |i: usize| {
        let path = loaded.clips[i].path.display();
        match &loaded.lines[i] {
            Some(line) => format!("{path} ({line})"),
            None => path.to_string(),
        }
    };
    for group in groups {
        // The last clip a manifest lists is the duplicate of the group's first clip.
        let listed = group
            .iter()
            .rev()
            .find_map(|&i| loaded.lines[i].as_ref().map(|line| (i, line)));
        let Some((duplicate, line)) = listed else {
            continue;
        };
        let Some(&other) = group.iter().find(|&&i| i != duplicate) else {
            continue;
        };
        return Err(DataError::Dataset(format!(
            "{line}: {} has the same content (SHA-256) as {}: a duplicate file",
            loaded.clips[duplicate].path.display(),
            place(other)
        )));
    }
    Ok(())
}

/// The speakers of every corpus of `index`, in name order.
pub(crate) fn speakers(index: &Index) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut corpora: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for clip in &index.clips {
        corpora
            .entry(clip.corpus.as_str())
            .or_default()
            .insert(clip.speaker.as_str());
    }
    corpora
}

/// Who made a corpus and under which licence, as a model's provenance names its data.
pub fn corpus_credit(name: &str) -> String {
    match name {
        ravdess::RAVDESS => "RAVDESS speech (Livingstone & Russo 2018), CC BY-NC-SA 4.0".into(),
        nemo::NEMO => "nEMO (Christop 2024), Polish, CC BY-NC-SA 4.0".into(),
        other => format!("{other} (from a manifest; see that corpus's own licence)"),
    }
}
