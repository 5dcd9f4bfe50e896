//! Manifests: any corpus as a table of its clips, so `sermo train --data crema.tsv` needs no
//! code.
//!
//! A manifest is a `.tsv` (tab-separated) or `.csv` (comma-separated, double quotes allowed)
//! file whose first line names its columns: `path`, `label` and `speaker` (required, any order)
//! and `corpus` (optional; default: the manifest's file stem, `crema.tsv` → `crema`). Other
//! columns are ignored; blank lines and lines starting with `#` too.
//!
//! ```text
//! path,label,speaker
//! AudioWAV/1001_DFA_ANG_XX.wav,ang,1001
//! AudioWAV/1001_DFA_NEU_XX.wav,neu,1001
//! ```
//!
//! (a `.csv`; a `.tsv` has tabs between the fields).
//!
//! - `path`: the audio file (WAV or FLAC), relative to the manifest's folder (or absolute;
//!   relative paths keep clip ids, and so cache keys, independent of where data lives).
//! - `label`: one of sermo's labels, a usual synonym (anger, fear, happiness, sadness,
//!   surprise, disgusted) or a name the label map (`--label-map ang=angry,…`) maps; `skip` in
//!   the map leaves a label's clips out.
//! - `speaker`: who speaks, unique within the corpus; protocols hold out whole speakers.
//!
//! Errors name the manifest and the line: an unknown label, a missing file, a speaker in two
//! corpora, the same file twice (by path, or by content: same SHA-256, checked by
//! [`crate::Index::load`] against every clip of the run).

use std::collections::HashMap;
use std::path::Path;

use crate::index::Loaded;
use crate::labels::LabelMap;
use crate::table::Table;
use crate::{Clip, DataError};

/// Whether `path` names a manifest (by its extension: `.tsv` or `.csv`).
pub(crate) fn is_manifest(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv") || e.eq_ignore_ascii_case("csv"))
}

/// Whether `name` may name a corpus: letters, digits, `-`, `_` and `.`, as it becomes part of
/// clip ids and file names (`confusion-NAME.png`).
pub fn valid_corpus_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Loads the clips a manifest lists; every error names the manifest and the line.
pub(crate) fn load(manifest: &Path, labels: &LabelMap) -> Result<Loaded, DataError> {
    let csv = manifest
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let table = Table::read(manifest, csv)?;
    let columns = ["path", "label", "speaker"]
        .map(|name| table.column(manifest, name))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let (path_col, label_col, speaker_col) = (columns[0], columns[1], columns[2]);
    let corpus_col = table.header.iter().position(|h| h == "corpus");
    let stem = manifest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let folder = manifest.parent().unwrap_or(Path::new(""));
    let needed = columns
        .iter()
        .chain(&corpus_col)
        .max()
        .copied()
        .unwrap_or(0)
        + 1;

    let mut loaded = Loaded::default();
    // Speaker → (corpus, line); normalised path → line.
    let mut speakers: HashMap<String, (String, usize)> = HashMap::new();
    let mut paths: HashMap<String, usize> = HashMap::new();
    for (line, fields) in &table.rows {
        let at =
            |what: String| DataError::Dataset(format!("{}:{line}: {what}", manifest.display()));
        if fields.len() < needed {
            return Err(at(format!(
                "{} fields, the header names {} (a missing separator?)",
                fields.len(),
                table.header.len()
            )));
        }
        let field = |i: usize| fields[i].trim();
        let Some(label) = labels.resolve(field(label_col)).map_err(at)? else {
            loaded.rejected.push((
                folder.join(field(path_col)),
                format!(
                    "{}:{line}: label {:?} is mapped to skip",
                    manifest.display(),
                    field(label_col)
                ),
            ));
            continue;
        };
        let speaker = field(speaker_col);
        if speaker.is_empty() {
            return Err(at("the speaker is empty".into()));
        }
        let corpus = match corpus_col.map(field) {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => stem.clone(),
        };
        if !valid_corpus_name(&corpus) {
            return Err(at(format!(
                "corpus name {corpus:?}: use letters, digits, '-', '_' or '.'"
            )));
        }
        if let Some((other, first)) = speakers.get(speaker)
            && *other != corpus
        {
            return Err(at(format!(
                "speaker {speaker:?} is in corpus {corpus:?} here and in {other:?} on line \
                 {first}: a speaker belongs to one corpus"
            )));
        }
        speakers
            .entry(speaker.to_string())
            .or_insert((corpus.clone(), *line));
        let written = field(path_col);
        if written.is_empty() {
            return Err(at("the path is empty".into()));
        }
        let relative = written.replace('\\', "/");
        let relative = relative.trim_start_matches("./").to_string();
        if let Some(first) = paths.insert(relative.clone(), *line) {
            return Err(at(format!(
                "{written} is listed twice (also on line {first}): a duplicate file"
            )));
        }
        let path = folder.join(&relative);
        if !path.is_file() {
            return Err(at(format!("{}: no such file", path.display())));
        }
        loaded.clips.push(Clip {
            path,
            id: format!("{corpus}/{relative}"),
            corpus,
            speaker: speaker.to_string(),
            label,
            info: None,
            sha256: None,
        });
        loaded
            .lines
            .push(Some(format!("{}:{line}", manifest.display())));
    }
    if loaded.clips.is_empty() {
        return Err(DataError::Dataset(format!(
            "{}: lists no clips",
            manifest.display()
        )));
    }
    Ok(loaded)
}
