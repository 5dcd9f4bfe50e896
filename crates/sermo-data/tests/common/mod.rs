//! What the corpus tests share: tiny WAVs, nEMO folders, manifests and RAVDESS folders they
//! write, and loading them.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};

use sermo_data::synthetic::{SyntheticSpec, write_dataset};
use sermo_data::{Index, LabelMap};

/// A 0.3 s, 16 kHz, 16-bit mono WAV whose content depends on `seed`: its first two samples
/// are the seed, so no two seeds give the same file.
pub fn write_wav(path: &Path, seed: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    w.write_sample((seed & 0x7fff) as i16).unwrap();
    w.write_sample((seed >> 15) as i16).unwrap();
    let period = 20 + seed % 50;
    for i in 2..4_800u32 {
        let v = ((i + seed * 7) % period) as i32 * 400 / period as i32 - 200;
        w.write_sample(v as i16 * 20).unwrap();
    }
    w.finalize().unwrap();
}

/// An nEMO-shaped folder: `data.tsv` (speaker ids padded as nEMO pads them) and `samples/`.
pub fn write_nemo(root: &Path, speakers: &[&str], emotions: &[&str]) {
    let mut tsv =
        String::from("file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage\n");
    let mut seed = 1000;
    for speaker in speakers {
        for emotion in emotions {
            for n in 0..2 {
                let name = format!("{speaker}_{emotion}_{n}.wav");
                write_wav(&root.join("samples").join(&name), seed);
                seed += 1;
                tsv +=
                    &format!("{name}\t{emotion}\tZdanie.\tzdanie\t        {speaker}\tmale\t23\n");
            }
        }
    }
    std::fs::write(root.join("data.tsv"), tsv).unwrap();
}

/// A manifest `name` in `dir` over clips it writes under `dir/clips/`: `speakers` × `labels` ×
/// two takes, labels as written (so a label map may be needed), with a corpus column when given.
pub fn write_manifest(
    dir: &Path,
    name: &str,
    speakers: &[&str],
    labels: &[&str],
    corpus: Option<&str>,
) -> PathBuf {
    let sep = if name.ends_with(".csv") { "," } else { "\t" };
    let mut text = ["path", "label", "speaker"].join(sep);
    if corpus.is_some() {
        text += &format!("{sep}corpus");
    }
    text.push('\n');
    let mut seed = 1 + name.len() as u32 * 100_000;
    for speaker in speakers {
        for label in labels {
            for take in 0..2 {
                let rel = format!("clips/{speaker}-{label}-{take}.wav");
                write_wav(&dir.join(&rel), seed);
                seed += 1;
                text += &[rel.as_str(), label, speaker].join(sep);
                if let Some(c) = corpus {
                    text += &format!("{sep}{c}");
                }
                text.push('\n');
            }
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A RAVDESS-named synthetic folder of `actors` actors (names matter here, not sound).
pub fn write_ravdess(root: &Path, actors: u8) {
    let spec = SyntheticSpec {
        actors,
        seconds: 0.05,
        ..SyntheticSpec::default()
    };
    write_dataset(root, &spec, true).unwrap();
}

pub fn load(sources: &[&Path], map: &str) -> Result<Index, String> {
    let map: LabelMap = map.parse().unwrap();
    let sources: Vec<PathBuf> = sources.iter().map(|p| p.to_path_buf()).collect();
    Index::load(&sources, &map).map_err(|e| e.to_string())
}
