//! Where the speech lies in RAVDESS clips, per actor, found by sermo's own voice-activity
//! detector ([`speech_onset`]; the end is the onset of the time-reversed clip).
//!
//! Why: the robustness report's short-clip shifts keep the first 2 s or 1.5 s of a clip, and
//! the paper's window skips the first 0.5 s. How much of the spoken sentence each of them keeps
//! says how much of an accuracy drop is lost speech rather than a channel the model failed to
//! learn (docs/results.md).
//!
//! ```sh
//! cargo run --release -p sermo-dsp --example speech_span -- ~/sermo/data/ravdess
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sermo_dsp::{decode_file, speech_onset};

/// The detected speech of one clip, seconds from its start.
struct Span {
    start: f64,
    end: f64,
}

impl Span {
    /// The share of the speech inside `[from, to)` seconds of the clip.
    fn kept(&self, from: f64, to: f64) -> f64 {
        (to.min(self.end) - from.max(self.start)).max(0.0) / (self.end - self.start)
    }
}

/// The span of speech in `path`, or `None` when the detector finds none.
fn span(path: &Path) -> Result<Option<Span>, String> {
    let audio = decode_file(path).map_err(|e| e.to_string())?;
    let rate = f64::from(audio.sample_rate);
    let Some(onset) = speech_onset(&audio.samples, audio.sample_rate) else {
        return Ok(None);
    };
    let reversed: Vec<f32> = audio.samples.iter().rev().copied().collect();
    let tail = speech_onset(&reversed, audio.sample_rate).unwrap_or(0);
    Ok(Some(Span {
        start: onset as f64 / rate,
        end: (audio.samples.len() - tail) as f64 / rate,
    }))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = v.fold((0.0, 0), |(s, n), x| (s + x, n + 1));
    sum / f64::from(n)
}

/// One table row: medians of start and end, and the mean share of speech kept by the first
/// 1.5 s, the first 2 s and the paper's window (0.5–3.5 s).
fn row(name: &str, spans: &[Span]) -> String {
    format!(
        "| {name} | {} | {:.2} | {:.2} | {:.0} % | {:.0} % | {:.0} % |",
        spans.len(),
        median(spans.iter().map(|s| s.start).collect()),
        median(spans.iter().map(|s| s.end).collect()),
        100.0 * mean(spans.iter().map(|s| s.kept(0.0, 1.5))),
        100.0 * mean(spans.iter().map(|s| s.kept(0.0, 2.0))),
        100.0 * mean(spans.iter().map(|s| s.kept(0.5, 3.5))),
    )
}

fn main() -> ExitCode {
    let Some(root) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: speech_span RAVDESS_DIR (the folder holding Actor_01 … Actor_24)");
        return ExitCode::FAILURE;
    };
    println!(
        "| actor | clips | speech starts (median, s) | ends | kept by the first 1.5 s | first 2 s | window 0.5–3.5 s |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut all = Vec::new();
    for actor in 1..=24 {
        let dir = root.join(format!("Actor_{actor:02}"));
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "wav"))
                .collect(),
            Err(e) => {
                eprintln!("{}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        };
        files.sort();
        let mut spans = Vec::new();
        for file in &files {
            match span(file) {
                Ok(Some(s)) => spans.push(s),
                Ok(None) => eprintln!("{}: no speech detected, left out", file.display()),
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    return ExitCode::FAILURE;
                }
            }
        }
        if spans.is_empty() {
            eprintln!("{}: no clip with speech", dir.display());
            return ExitCode::FAILURE;
        }
        println!("{}", row(&format!("{actor}"), &spans));
        all.extend(spans);
    }
    println!("{}", row("all", &all));
    ExitCode::SUCCESS
}
