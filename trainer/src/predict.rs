//! `sermo predict`: label and probabilities per audio file, or per window over the file's
//! length (`--timeline`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;
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
    let labels = classifier.labels().to_vec();
    if args.timeline {
        return timelines(args, &classifier);
    }
    let mut failures = 0;
    if !args.json {
        print!("{:<40} {:<10}", "file", "label");
        for l in &labels {
            print!(" {:>9}", l.chars().take(9).collect::<String>());
        }
        println!();
    }
    for path in &args.audio {
        // Decoding errors name the file themselves; the classifier's do not.
        let result = sermo_dsp::decode_file(path)
            .map_err(anyhow::Error::from)
            .and_then(|audio| {
                classifier
                    .classify(&audio)
                    .with_context(|| path.display().to_string())
            });
        let prediction = match result {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e:#}");
                failures += 1;
                continue;
            }
        };
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
    }
    summary(failures, args.audio.len())
}

fn summary(failures: usize, files: usize) -> Result<()> {
    if failures > 0 {
        anyhow::bail!("{failures} of {files} files could not be classified");
    }
    Ok(())
}

/// `--timeline`: every file's timeline, printed or as JSON lines, and charted on request.
fn timelines(args: &PredictArgs, classifier: &Classifier) -> Result<()> {
    if let Some(dir) = &args.chart {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let labels = classifier.labels().to_vec();
    let mut failures = 0;
    for path in &args.audio {
        let name = path.display().to_string();
        let result = sermo_dsp::decode_file(path)
            .map_err(anyhow::Error::from)
            .and_then(|audio| classifier.timeline(&audio, args.hop).context(name.clone()));
        let moments = match result {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {e:#}");
                failures += 1;
                continue;
            }
        };
        if args.json {
            let line = timeline::FileTimeline {
                file: name.clone(),
                hop: args.hop,
                timeline: &moments,
            };
            println!("{}", serde_json::to_string(&line)?);
        } else {
            timeline::print(&name, &moments, &labels);
        }
        if let Some(dir) = &args.chart {
            let file_name = path
                .file_name()
                .map_or_else(|| "audio".into(), |n| n.to_string_lossy().into_owned());
            let png = dir.join(format!("{file_name}.timeline.png"));
            let title = format!("{file_name}: emotion over time (hop {} s)", args.hop);
            timeline::chart(&png, &title, &moments, &labels)?;
            eprintln!("wrote {}", png.display());
        }
    }
    summary(failures, args.audio.len())
}
