//! `sermo robustness`: accuracy and macro-F1 of a model on a protocol's clean test clips and on
//! each channel shift of [`report_set`] (built from [`sermo_dsp::augment`]), as JSON and a PNG
//! chart.
//!
//! Every shift is applied to the decoded clip before the model's own feature pipeline (resample,
//! window, MFCC, scaler), exactly where a different microphone or room would act. Draws are
//! seeded per shift and clip (`--shift-seed`), so a report is reproduced bit for bit. Under
//! `paper` the clips are the split's clean clips (the split's noisy copies are left out:
//! the shifts replace them).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sermo_data::{LabelSet, clip_seed};
use sermo_dsp::{Audio, NoiseKind, Shift, decode_file};
use sermo_model::Classifier;

use crate::args::{ProtocolArgs, SourceArgs, SplitName, command_line};
use crate::backend::Backend;
use crate::metrics::Scores;
use crate::report::{Condition, RobustnessReport};

/// `sermo robustness`.
#[derive(clap::Args, Debug, Clone)]
pub struct RobustnessArgs {
    /// Model: `default` (omitted) or `paper` for a shipped one, else a .safetensors artifact.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub sources: SourceArgs,
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Seed of the split: the seed the model was trained with.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Split scored: `valid` to choose settings, `test` once per reported variant.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitName,
    /// Seed of the shifts' random draws (noise, rooms, onsets).
    #[arg(long, default_value_t = 0)]
    pub shift_seed: u64,
    /// Shifts to score besides the clean clips: `all`, or names from `--list-shifts`,
    /// comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub shifts: Vec<String>,
    /// Print the names of the shifts and exit.
    #[arg(long)]
    pub list_shifts: bool,
    /// Output directory: robustness.json and robustness.png.
    #[arg(long, required_unless_present = "list_shifts")]
    pub out: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
}

/// The shifts of the report, in its order: gain −20 … +10 dB, 16 and 8 kHz channels, white and
/// speech-shaped noise at 20/10/5 dB, RT60 0.2/0.5/0.8 s, a random onset in −0.5 … +1.0 s, and
/// clips cut to 2.0 and 1.5 s.
fn report_set() -> Vec<Shift> {
    let mut all = vec![
        Shift::Gain { db: -20.0 },
        Shift::Gain { db: -10.0 },
        Shift::Gain { db: 6.0 },
        Shift::Gain { db: 10.0 },
        Shift::BandLimit { rate_hz: 16_000 },
        Shift::BandLimit { rate_hz: 8_000 },
    ];
    for noise in [NoiseKind::White, NoiseKind::Speech] {
        for snr_db in [20.0, 10.0, 5.0] {
            all.push(Shift::Noise { noise, snr_db });
        }
    }
    for rt60_s in [0.2, 0.5, 0.8] {
        all.push(Shift::Reverb { rt60_s });
    }
    all.push(Shift::Onset {
        min_s: -0.5,
        max_s: 1.0,
    });
    all.push(Shift::Truncate { seconds: 2.0 });
    all.push(Shift::Truncate { seconds: 1.5 });
    all
}

/// A short stable name of a shift, e.g. `gain-20dB`, `band-8kHz`, `speech-noise-10dB`,
/// `reverb-0.5s`, `onset-0.5..+1s`, `short-1.5s`: the report's keys, the seed of each clip's
/// draws and the `--shifts` values.
fn shift_name(shift: &Shift) -> String {
    match *shift {
        Shift::Gain { db } => format!("gain{db:+}dB"),
        Shift::BandLimit { rate_hz } => format!("band-{}kHz", rate_hz as f32 / 1000.0),
        Shift::Noise { noise, snr_db } => {
            let kind = match noise {
                NoiseKind::White => "white",
                NoiseKind::Speech => "speech",
            };
            format!("{kind}-noise-{snr_db}dB")
        }
        Shift::Reverb { rt60_s } => format!("reverb-{rt60_s}s"),
        Shift::Onset { min_s, max_s } => format!("onset{min_s:+}..{max_s:+}s"),
        Shift::Truncate { seconds } => format!("short-{seconds}s"),
        Shift::Speed { factor } => format!("speed-x{factor}"),
    }
}

/// The shifts named on the command line (or all of them).
fn selected(names: &[String]) -> Result<Vec<Shift>> {
    let all = report_set();
    if names.iter().any(|n| n == "all") {
        return Ok(all);
    }
    names
        .iter()
        .map(|n| {
            all.iter()
                .find(|s| shift_name(s) == *n)
                .copied()
                .with_context(|| {
                    format!(
                        "unknown shift {n:?}; known: {}",
                        all.iter().map(shift_name).collect::<Vec<_>>().join(", ")
                    )
                })
        })
        .collect()
}

pub fn run(args: &RobustnessArgs) -> Result<()> {
    if args.list_shifts {
        for s in report_set() {
            println!("{}", shift_name(&s));
        }
        return Ok(());
    }
    let Some(out) = &args.out else {
        bail!("give --out DIR");
    };
    let shifts = selected(&args.shifts)?;
    let artifact = crate::models::load(args.model.as_deref())?;
    let labels = LabelSet::of_names(&artifact.meta.labels)?;
    let index = crate::data::load_index(&args.sources, false)?;
    let protocol = args.protocol.protocol();
    let split = protocol.split(&index, 0, args.seed)?;
    let clips: Vec<usize> = args.split.of(&split).iter().map(|e| e.clip).collect();
    eprintln!(
        "{protocol}, seed {}: {} clean {} clips, {} shifts",
        args.seed,
        clips.len(),
        args.split.as_str(),
        shifts.len()
    );
    let audio: Vec<Audio> = clips
        .iter()
        .map(|&c| {
            decode_file(&index.clips[c].path).context("decoding the clips to score") // names the file
        })
        .collect::<Result<_>>()?;
    let targets: Vec<usize> = clips
        .iter()
        .map(|&c| labels.class(index.clips[c].label))
        .collect();
    let ids: Vec<&str> = clips.iter().map(|&c| index.clips[c].id.as_str()).collect();

    let device = args.backend.device()?;
    let classifier = Classifier::new(&artifact, &device)?;
    let mut conditions: Vec<Condition> = Vec::new();
    for shift in std::iter::once(None).chain(shifts.into_iter().map(Some)) {
        let name = shift.map_or_else(|| "clean".to_string(), |s| shift_name(&s));
        let started = std::time::Instant::now();
        let (predicted, unvoiced) =
            score(&classifier, &audio, &ids, shift, &name, args.shift_seed)?;
        let scores = Scores::new(classifier.labels(), &targets, &predicted);
        let clean = conditions.first().map_or(scores.accuracy, |c| c.accuracy);
        eprintln!(
            "{name:>22}: accuracy {:5.1} %  macro F1 {:.3}  ({:+.1} points, {unvoiced} unvoiced, {:.0} s)",
            100.0 * scores.accuracy,
            scores.macro_f1,
            100.0 * (scores.accuracy - clean),
            started.elapsed().as_secs_f64()
        );
        conditions.push(Condition {
            name,
            shift,
            accuracy: scores.accuracy,
            macro_f1: scores.macro_f1,
            delta_points: 100.0 * (scores.accuracy - clean),
            unvoiced,
        });
    }
    let worst = conditions
        .iter()
        .min_by(|a, b| a.delta_points.total_cmp(&b.delta_points))
        .map(|c| (c.name.clone(), c.delta_points))
        .unwrap_or_default();
    let report = RobustnessReport {
        model: args
            .model
            .as_ref()
            .map_or_else(|| "default".into(), |p| p.display().to_string()),
        model_name: artifact.meta.provenance.name.clone(),
        protocol,
        seed: args.seed,
        split: args.split.as_str().to_string(),
        shift_seed: args.shift_seed,
        clips: clips.len(),
        actors: match args.split {
            SplitName::Valid => split.valid_actors.clone(),
            SplitName::Test => split.test_actors.clone(),
        },
        speakers: match args.split {
            SplitName::Valid => split.valid_speakers.clone(),
            SplitName::Test => split.test_speakers.clone(),
        },
        conditions,
        worst,
        command: command_line(),
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let json = out.join("robustness.json");
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let png = out.join("robustness.png");
    crate::plots::robustness(&png, &report)?;
    eprintln!(
        "worst: {} ({:+.1} points); wrote {} and {}",
        report.worst.0,
        report.worst.1,
        json.display(),
        png.display()
    );
    Ok(())
}

/// Predicted class of every clip under one condition, and how many windows were unvoiced.
fn score(
    classifier: &Classifier,
    audio: &[Audio],
    ids: &[&str],
    shift: Option<Shift>,
    name: &str,
    shift_seed: u64,
) -> Result<(Vec<usize>, usize)> {
    const BATCH: usize = 64;
    let mut predicted = Vec::with_capacity(audio.len());
    let mut unvoiced = 0;
    for (chunk, chunk_ids) in audio.chunks(BATCH).zip(ids.chunks(BATCH)) {
        let mut features = Vec::with_capacity(chunk.len());
        for (clip, id) in chunk.iter().zip(chunk_ids) {
            let shifted = match shift {
                None => clip.clone(),
                Some(s) => {
                    let mut rng =
                        ChaCha8Rng::seed_from_u64(clip_seed(shift_seed, &format!("{name}/{id}")));
                    let samples = s
                        .apply(&clip.samples, clip.sample_rate, &mut rng)
                        .with_context(|| format!("{name} on {id}"))?;
                    Audio::new(samples, clip.sample_rate)
                }
            };
            features.push(
                classifier
                    .features(&shifted)
                    .with_context(|| format!("features of {id} under {name}"))?,
            );
        }
        unvoiced += features.iter().filter(|f| !f.voiced).count();
        predicted.extend(classifier.predict(&features)?.iter().map(|p| p.class));
    }
    Ok((predicted, unvoiced))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct() {
        let names: Vec<String> = report_set().iter().map(shift_name).collect();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for name in [
            "gain-20dB",
            "band-8kHz",
            "speech-noise-10dB",
            "onset-0.5..+1s",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
        }
    }

    #[test]
    fn names_select_shifts() {
        assert_eq!(selected(&["all".into()]).unwrap(), report_set());
        let two = selected(&["band-8kHz".into(), "reverb-0.5s".into()]).unwrap();
        assert_eq!(
            two,
            [
                Shift::BandLimit { rate_hz: 8_000 },
                Shift::Reverb { rt60_s: 0.5 }
            ]
        );
        assert!(selected(&["gain+3dB".into()]).is_err());
    }
}
