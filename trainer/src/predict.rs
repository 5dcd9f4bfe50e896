//! `sermo predict`: label and probabilities per audio file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;
use sermo_model::{Classifier, Prediction};

use crate::backend::Backend;

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
    /// voiced, probabilities (label → p), probabilitiesArray, logits).
    #[arg(long)]
    pub json: bool,
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
    if failures > 0 {
        anyhow::bail!(
            "{failures} of {} files could not be classified",
            args.audio.len()
        );
    }
    Ok(())
}
