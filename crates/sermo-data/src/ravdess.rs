//! The RAVDESS loader: which files a directory holds and what their names say.
//!
//! RAVDESS names each file `MM-VV-EE-II-SS-RR-AA.wav`: modality (01 full-AV, 02 video-only,
//! 03 audio-only), vocal channel (01 speech, 02 song), emotion (01 neutral … 08 surprised),
//! intensity (01 normal, 02 strong), statement (01 "Kids are talking by the door", 02 "Dogs
//! are sitting by the door"), repetition (01, 02) and actor (01–24; odd male, even female).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::{Clip, DataError, Index};

/// The corpus name of clips found by their RAVDESS names.
pub const RAVDESS: &str = "ravdess";

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

    /// The actor as a speaker name, unique within RAVDESS: `01` … `24`.
    pub fn speaker(&self) -> String {
        format!("{:02}", self.actor)
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

/// Every file under `dir`, following symbolic links to files and folders (a folder of linked
/// `Actor_NN` folders is a dataset too); a folder reached twice (a link loop) is read once, and
/// a link that leads nowhere is listed in `rejected`.
fn walk(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    rejected: &mut Vec<(PathBuf, String)>,
    seen: &mut BTreeSet<PathBuf>,
) -> Result<(), DataError> {
    let real = std::fs::canonicalize(dir).map_err(|e| DataError::io(dir, e))?;
    if !seen.insert(real) {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let path = entry.path();
        // `metadata` follows links, where `DirEntry::file_type` would not.
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => walk(&path, out, rejected, seen)?,
            Ok(meta) if meta.is_file() => out.push(path),
            Ok(_) => {}
            Err(e) => rejected.push((path, format!("unreadable (a broken link?): {e}"))),
        }
    }
    Ok(())
}

/// Scans `root` recursively for `.wav` files and parses their names. Only speech clips
/// (vocal channel 01) are kept: the paper trains on RAVDESS speech. Files that are not
/// RAVDESS speech clips are listed in [`Index::rejected`] with the reason. Clips are sorted by
/// what their names say (then by id), so runs are reproducible on any file system; their ids
/// are their paths below `root`, as they always were (cache keys and noise seeds use them).
pub(crate) fn scan(root: &Path) -> Result<Index, DataError> {
    if !root.is_dir() {
        return Err(DataError::Dataset(format!(
            "{}: not a directory",
            root.display()
        )));
    }
    let mut files = Vec::new();
    let mut index = Index::default();
    walk(root, &mut files, &mut index.rejected, &mut BTreeSet::new())?;
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
                index.clips.push(Clip::ravdess(path, id, info));
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
    check_unique_names(&index.clips)?;
    Ok(index)
}

/// The same RAVDESS name twice (in two folders, or two datasets) is the same clip twice: it
/// would sit in two splits.
pub(crate) fn check_unique_names(clips: &[Clip]) -> Result<(), DataError> {
    let mut seen = BTreeMap::new();
    for clip in clips {
        let Some(info) = clip.info else { continue };
        if let Some(other) = seen.insert(info, &clip.path) {
            return Err(DataError::Dataset(format!(
                "{} and {} are the same RAVDESS clip (same name in two places)",
                other.display(),
                clip.path.display()
            )));
        }
    }
    Ok(())
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
