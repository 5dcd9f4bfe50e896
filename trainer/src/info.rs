//! `sermo info`: what a model artifact holds.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;
use sermo_dsp::Align;
use sermo_dsp::window::PRE_ROLL_S;

/// `sermo info`.
#[derive(clap::Args, Debug, Clone)]
pub struct InfoArgs {
    /// Model: `default` (omitted) or `paper` for a shipped one, else a .safetensors artifact.
    pub model: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &InfoArgs) -> Result<()> {
    let artifact = crate::models::load(args.model.as_deref())?;
    let meta = &artifact.meta;
    let source = args
        .model
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "built-in default model".into());
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "source": source,
                "format": meta.format,
                "version": meta.version,
                "labels": meta.labels,
                "parameters": artifact.num_params(),
                "features": meta.features,
                "model": meta.model,
                "provenance": meta.provenance,
            }))?
        );
        return Ok(());
    }
    let p = &meta.provenance;
    println!("{source}: {} v{}", meta.format, meta.version);
    println!(
        "  name        {}{}",
        p.name,
        if p.trained {
            ""
        } else {
            " (UNTRAINED placeholder)"
        }
    );
    println!("  labels      {}", meta.labels.join(", "));
    println!("  parameters  {}", artifact.num_params());
    println!(
        "  features    MFCC {}×{} at {} Hz (n_fft {}, win {}, hop {}, {} mels, pad {:?}, window {})",
        meta.features.n_mfcc,
        meta.features.n_frames(),
        meta.features.sample_rate,
        meta.features.n_fft,
        meta.features.win_length,
        meta.features.hop_length,
        meta.features.n_mels,
        meta.features.pad_mode,
        window_description(&meta.features)
    );
    println!(
        "  network     2 CNN blocks {:?} + {}-layer Transformer (d {}, {} heads, ff {}) → {} classes",
        meta.model.conv_channels,
        meta.model.n_layers,
        meta.model.n_mfcc,
        meta.model.n_heads,
        meta.model.d_ff,
        meta.model.num_classes
    );
    println!("  data        {}", p.data);
    if let Some(protocol) = &p.protocol {
        println!("  protocol    {protocol}");
    }
    if let Some(seed) = p.seed {
        println!("  seed        {seed}");
    }
    if let (Some(e), Some(b)) = (p.epochs, p.best_epoch) {
        println!("  epochs      {e} (weights of epoch {b})");
    }
    for a in &p.accuracies {
        println!(
            "  accuracy    {:.2} % on {} {} ({} examples)",
            100.0 * a.accuracy,
            a.protocol,
            a.split,
            a.examples
        );
    }
    if let Some(c) = &p.command {
        println!("  command     {c}");
    }
    if let Some(n) = &p.notes {
        println!("  notes       {n}");
    }
    Ok(())
}

/// Where the analysed window lies and how each clip is normalised, in words.
fn window_description(f: &sermo_dsp::FeatureConfig) -> String {
    let window = match (f.window, f.align) {
        (false, _) => "whole clip".to_string(),
        (true, Align::Fixed) => format!("{} s from {} s", f.duration_s, f.offset_s),
        (true, Align::Speech) => format!(
            "{} s from {} s before the detected speech onset",
            f.duration_s, PRE_ROLL_S
        ),
    };
    if f.cmvn {
        format!("{window}, per-utterance CMVN")
    } else {
        window
    }
}
