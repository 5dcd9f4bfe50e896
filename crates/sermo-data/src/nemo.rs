//! The nEMO loader (Christop 2024, Polish acted speech, CC BY-NC-SA 4.0): a folder with
//! `data.tsv` and `samples/`.
//!
//! `data.tsv` has a header and one row per clip: file_id, emotion, raw_text, normalized_text,
//! speaker_id (padded with leading spaces), gender, age. Its emotions map onto sermo's: anger →
//! angry, fear → fearful, happiness → happy, neutral → neutral, sadness → sad, surprised →
//! surprised (nEMO has no calm and no disgust). Rows are the clips: a file in `samples/` that
//! `data.tsv` does not list is not one.

use std::path::Path;

use crate::index::Loaded;
use crate::labels::LabelMap;
use crate::table::Table;
use crate::{Clip, DataError};

/// The corpus name of nEMO's clips.
pub const NEMO: &str = "nemo";
/// The file that makes a folder an nEMO folder.
pub const DATA_TSV: &str = "data.tsv";
/// nEMO's six emotions, each as one of sermo's names.
const EMOTIONS: [(&str, &str); 6] = [
    ("anger", "angry"),
    ("fear", "fearful"),
    ("happiness", "happy"),
    ("neutral", "neutral"),
    ("sadness", "sad"),
    ("surprised", "surprised"),
];

/// Loads the clips `root/data.tsv` lists; errors name `data.tsv` and the line.
pub(crate) fn load(root: &Path) -> Result<Loaded, DataError> {
    let tsv = root.join(DATA_TSV);
    let table = Table::read(&tsv, false)?;
    let (file, emotion, speaker) = (
        table.column(&tsv, "file_id")?,
        table.column(&tsv, "emotion")?,
        table.column(&tsv, "speaker_id")?,
    );
    let mapped: LabelMap = EMOTIONS
        .iter()
        .map(|(nemo, sermo)| format!("{nemo}={sermo}"))
        .collect::<Vec<_>>()
        .join(",")
        .parse()
        .map_err(DataError::Dataset)?;
    let mut loaded = Loaded::default();
    for (line, fields) in &table.rows {
        let at = |what: String| DataError::Dataset(format!("{}:{line}: {what}", tsv.display()));
        let field = |i: usize| fields.get(i).map(|f| f.trim()).unwrap_or("");
        let name = field(file);
        if name.is_empty() || name.contains(['/', '\\']) {
            return Err(at(format!("file_id {name:?} is not a file name")));
        }
        let raw = field(emotion);
        if !EMOTIONS.iter().any(|(nemo, _)| *nemo == raw) {
            return Err(at(format!(
                "emotion {raw:?} is not one of nEMO's ({})",
                EMOTIONS.map(|(nemo, _)| nemo).join(", ")
            )));
        }
        let Ok(Some(label)) = mapped.resolve(raw) else {
            return Err(at(format!("emotion {raw:?} has no sermo label")));
        };
        let speaker = field(speaker);
        if speaker.is_empty() {
            return Err(at("speaker_id is empty".into()));
        }
        let path = root.join("samples").join(name);
        if !path.is_file() {
            return Err(at(format!("{}: no such file", path.display())));
        }
        loaded.clips.push(Clip {
            path,
            id: format!("{NEMO}/samples/{name}"),
            corpus: NEMO.into(),
            speaker: speaker.into(),
            label,
            info: None,
            sha256: None,
        });
        loaded.lines.push(None);
    }
    if loaded.clips.is_empty() {
        return Err(DataError::Dataset(format!(
            "{}: lists no clips",
            tsv.display()
        )));
    }
    Ok(loaded)
}
