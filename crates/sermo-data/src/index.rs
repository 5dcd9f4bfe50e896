//! The RAVDESS index: which files a directory holds and what their names say.
//!
//! RAVDESS names each file `MM-VV-EE-II-SS-RR-AA.wav`: modality (01 full-AV, 02 video-only,
//! 03 audio-only), vocal channel (01 speech, 02 song), emotion (01 neutral … 08 surprised),
//! intensity (01 normal, 02 strong), statement (01 "Kids are talking by the door", 02 "Dogs
//! are sitting by the door"), repetition (01, 02) and actor (01–24; odd male, even female).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::DataError;

/// What a RAVDESS file name says about its clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClipInfo {
    /// 1 full-AV, 2 video-only, 3 audio-only.
    pub modality: u8,
    /// 1 speech, 2 song.
    pub vocal_channel: u8,
    /// Emotion code 1–8 (1 neutral, 2 calm, 3 happy, 4 sad, 5 angry, 6 fearful, 7 disgust,
    /// 8 surprised).
    pub emotion: u8,
    /// 1 normal, 2 strong.
    pub intensity: u8,
    /// 1 or 2.
    pub statement: u8,
    /// 1 or 2.
    pub repetition: u8,
    /// 1–24.
    pub actor: u8,
}

impl ClipInfo {
    /// The emotion as a class index, 0–7.
    pub fn label(&self) -> usize {
        usize::from(self.emotion - 1)
    }

    /// Whether this is a speech (not song) clip.
    pub fn is_speech(&self) -> bool {
        self.vocal_channel == 1
    }
}

/// Parses a RAVDESS file name (`03-01-05-02-01-02-12.wav`); the error says which field is wrong.
pub fn parse_name(name: &str) -> Result<ClipInfo, String> {
    let stem = name.rsplit_once('.').map(|(stem, _)| stem).unwrap_or(name);
    let fields: Vec<&str> = stem.split('-').collect();
    if fields.len() != 7 {
        return Err(format!(
            "expected 7 dash-separated fields (MM-VV-EE-II-SS-RR-AA), found {}",
            fields.len()
        ));
    }
    let mut values = [0u8; 7];
    let names = [
        "modality",
        "vocal channel",
        "emotion",
        "intensity",
        "statement",
        "repetition",
        "actor",
    ];
    for (i, field) in fields.iter().enumerate() {
        if field.len() != 2 || !field.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{} field {field:?} is not two digits", names[i]));
        }
        values[i] = field
            .parse()
            .map_err(|_| format!("{} field {field:?}", names[i]))?;
    }
    let [
        modality,
        vocal_channel,
        emotion,
        intensity,
        statement,
        repetition,
        actor,
    ] = values;
    let check = |ok: bool, what: &str, v: u8| {
        if ok {
            Ok(())
        } else {
            Err(format!("{what} {v:02} is out of range"))
        }
    };
    check((1..=3).contains(&modality), "modality", modality)?;
    check(
        (1..=2).contains(&vocal_channel),
        "vocal channel",
        vocal_channel,
    )?;
    check((1..=8).contains(&emotion), "emotion", emotion)?;
    check((1..=2).contains(&intensity), "intensity", intensity)?;
    check((1..=2).contains(&statement), "statement", statement)?;
    check((1..=2).contains(&repetition), "repetition", repetition)?;
    check((1..=24).contains(&actor), "actor", actor)?;
    Ok(ClipInfo {
        modality,
        vocal_channel,
        emotion,
        intensity,
        statement,
        repetition,
        actor,
    })
}

/// One indexed clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// Absolute or caller-relative path of the file.
    pub path: PathBuf,
    /// Path relative to the scanned root, with `/` separators: the clip's stable identity
    /// (cache keys and noise seeds use it, so results do not depend on where data lives).
    pub id: String,
    /// What the file name says.
    pub info: ClipInfo,
}

/// The clips of a directory tree, sorted by file name so runs are reproducible on any file
/// system, and the files that were skipped, each with the reason.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Usable clips, sorted by file name.
    pub clips: Vec<Clip>,
    /// Files skipped, with the reason.
    pub rejected: Vec<(PathBuf, String)>,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| DataError::io(&path, e))?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

impl Index {
    /// Scans `root` recursively for `.wav` files and parses their names. Only speech clips
    /// (vocal channel 01) are kept: the paper trains on RAVDESS speech. Files that are not
    /// RAVDESS speech clips are listed in [`Index::rejected`] with the reason.
    pub fn scan(root: &Path) -> Result<Self, DataError> {
        if !root.is_dir() {
            return Err(DataError::Dataset(format!(
                "{}: not a directory",
                root.display()
            )));
        }
        let mut files = Vec::new();
        walk(root, &mut files)?;
        let mut index = Index::default();
        for path in files {
            let is_wav = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
            if !is_wav {
                continue;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match parse_name(&name) {
                Ok(info) if info.is_speech() => {
                    let id = path
                        .strip_prefix(root)
                        .unwrap_or(&path)
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    index.clips.push(Clip { path, id, info });
                }
                Ok(_) => index
                    .rejected
                    .push((path, "song clip (vocal channel 02)".into())),
                Err(reason) => index
                    .rejected
                    .push((path, format!("not a RAVDESS name: {reason}"))),
            }
        }
        index
            .clips
            .sort_by(|a, b| (a.info, &a.id).cmp(&(b.info, &b.id)));
        index.rejected.sort();
        let mut seen = BTreeMap::new();
        for clip in &index.clips {
            if let Some(other) = seen.insert(clip.info, &clip.path) {
                return Err(DataError::Dataset(format!(
                    "{} and {} are the same RAVDESS clip (same name in two places)",
                    other.display(),
                    clip.path.display()
                )));
            }
        }
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

    /// Clips per emotion code (1–8).
    pub fn per_emotion(&self) -> BTreeMap<u8, usize> {
        let mut counts = BTreeMap::new();
        for c in &self.clips {
            *counts.entry(c.info.emotion).or_insert(0) += 1;
        }
        counts
    }

    /// Clips per actor (1–24).
    pub fn per_actor(&self) -> BTreeMap<u8, usize> {
        let mut counts = BTreeMap::new();
        for c in &self.clips {
            *counts.entry(c.info.actor).or_insert(0) += 1;
        }
        counts
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_ravdess_names() {
        let info = parse_name("03-01-05-02-01-02-12.wav").unwrap();
        assert_eq!(info.emotion, 5);
        assert_eq!(info.label(), 4);
        assert_eq!(info.intensity, 2);
        assert_eq!(info.actor, 12);
        assert!(info.is_speech());
    }

    #[test]
    fn rejects_bad_names_with_reason() {
        assert!(
            parse_name("hello.wav")
                .unwrap_err()
                .contains("7 dash-separated")
        );
        assert!(
            parse_name("03-01-09-01-01-01-01.wav")
                .unwrap_err()
                .contains("emotion 09")
        );
        assert!(
            parse_name("03-01-05-01-01-01-25.wav")
                .unwrap_err()
                .contains("actor 25")
        );
        assert!(
            parse_name("03-01-x5-01-01-01-01.wav")
                .unwrap_err()
                .contains("emotion")
        );
    }
}
