//! `sermo predict`: label and probabilities per audio file, or per window over the file's
//! length (`--timeline`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use sermo_dsp::Audio;
use sermo_model::{Classifier, Prediction};

use crate::backend::Backend;
use crate::timeline;

/// `sermo predict`.
#[derive(clap::Args, Debug, Clone)]
pub struct PredictArgs {
    /// Audio files (WAV or FLAC).
    #[arg(required = true)]
    pub audio: Vec<PathBuf>,
    /// Model: `default` (omitted) or `paper` for a shipped one, else a .safetensors artifact.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// One JSON object per file: file, then the prediction as the npm package gives it (label,
    /// voiced, probabilities (label → p), probabilitiesArray, logits); with `--timeline`,
    /// file, hop and `timeline`: one such object per window, with its `start` and `end`.
    #[arg(long)]
    pub json: bool,
    /// Emotion over the whole recording: every window (as long as the model's, 3 s) from the
    /// start, `--hop` seconds apart, classified, instead of one window per file.
    #[arg(long)]
    pub timeline: bool,
    /// Seconds between the starts of a timeline's windows.
    #[arg(long, default_value_t = 0.5, requires = "timeline")]
    pub hop: f64,
    /// With `--timeline`: also draw each file's timeline as `DIR/<file name>.timeline.png`.
    #[arg(long, value_name = "DIR", requires = "timeline")]
    pub chart: Option<PathBuf>,
}

/// One line of `--json`: the file and its [`Prediction`], serialised as everywhere else.
#[derive(Serialize)]
struct FileResult<'a> {
    file: String,
    #[serde(flatten)]
    prediction: &'a Prediction,
}

pub fn run(args: &PredictArgs) -> Result<()> {
    let artifact = crate::models::load(args.model.as_deref())?;
    let device = args.backend.device()?;
    let classifier = Classifier::new(&artifact, &device)?;
    if args.timeline {
        return timelines(args, &classifier);
    }
    if !args.json {
        print!("{:<40} {:<10}", "file", "label");
        for l in classifier.labels() {
            print!(" {:>9}", l.chars().take(9).collect::<String>());
        }
        println!();
    }
    for_each_file(&args.audio, |path, audio| {
        let prediction = classifier.classify(audio)?;
        if args.json {
            let line = FileResult {
                file: path.display().to_string(),
                prediction: &prediction,
            };
            println!("{}", serde_json::to_string(&line)?);
        } else {
            let name = path.display().to_string();
            let short = if name.len() > 40 {
                format!("…{}", &name[name.len() - 39..])
            } else {
                name
            };
            print!(
                "{short:<40} {:<10}",
                prediction.label.as_deref().unwrap_or("(silence)")
            );
            for p in &prediction.probabilities {
                print!(" {p:>9.4}");
            }
            println!();
        }
        Ok(())
    })
}

/// Decodes every file and hands its audio to `each`. A file that cannot be decoded or
/// classified is reported (the error names it) and counted, and the rest go on; the count
/// fails the command at the end.
fn for_each_file(
    files: &[PathBuf],
    mut each: impl FnMut(&Path, &Audio) -> Result<()>,
) -> Result<()> {
    let mut failures = 0;
    for path in files {
        // Decoding errors name the file themselves; the others do not.
        let result = sermo_dsp::decode_file(path)
            .map_err(anyhow::Error::from)
            .and_then(|audio| each(path, &audio).with_context(|| path.display().to_string()));
        if let Err(e) = result {
            eprintln!("error: {e:#}");
            failures += 1;
        }
    }
    if failures > 0 {
        anyhow::bail!(
            "{failures} of {} files could not be classified",
            files.len()
        );
    }
    Ok(())
}

/// `--timeline`: every file's timeline, printed or as JSON lines, and charted on request.
fn timelines(args: &PredictArgs, classifier: &Classifier) -> Result<()> {
    if let Some(dir) = &args.chart {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let labels = classifier.labels();
    for_each_file(&args.audio, |path, audio| {
        let moments = classifier.timeline(audio, args.hop)?;
        let name = path.display().to_string();
        if args.json {
            let line = timeline::FileTimeline {
                file: name,
                hop: args.hop,
                timeline: &moments,
            };
            println!("{}", serde_json::to_string(&line)?);
        } else {
            timeline::print(&name, &moments, labels);
        }
        if let Some(dir) = &args.chart {
            let file_name = path
                .file_name()
                .map_or_else(|| "audio".into(), |n| n.to_string_lossy().into_owned());
            let png = dir.join(format!("{file_name}.timeline.png"));
            let title = format!("{file_name}: emotion over time (hop {} s)", args.hop);
            timeline::chart(&png, &title, &moments, labels)?;
            eprintln!("wrote {}", png.display());
        }
        Ok(())
    })
}
