//! `sermo features`: audio files in, MFCC matrices out as NumPy `.npy` files.
//!
//! ```text
//! sermo features clip.wav -o clip.npy              # one file → one (40, 282) float32 array
//! sermo features Actor_01/ extra.flac -o feats/    # many → feats/<relative path>/<stem>.npy
//! sermo features clip.wav -o c.npy --pad-mode constant --no-window
//! ```
//!
//! The arrays are exactly what the model sees before scaling (`sermo_dsp::FeatureExtractor`), so they
//! can be compared with `librosa.feature.mfcc` or fed to other tools. Every `FeatureConfig`
//! field has a flag; a flag left out keeps the paper's value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use clap::builder::PossibleValuesParser;
use clap::builder::TypedValueParser;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use sermo_dsp::{FeatureConfig, FeatureExtractor, PadMode};

/// `sermo features`.
#[derive(clap::Args, Debug, Clone)]
pub struct FeaturesArgs {
    /// Audio files (WAV, FLAC) or directories, searched recursively for .wav and .flac files.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Where to write: a `.npy` file when the only input is a file, otherwise a directory that
    /// receives `<stem>.npy` per file (mirroring the layout under each input directory).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Feature parameters (each defaults to the paper's value).
    #[command(flatten)]
    pub config: FeatureFlags,
}

/// One flag per `sermo_dsp::FeatureConfig` field; `None` keeps the default.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FeatureFlags {
    /// Analysis sample rate in Hz; inputs are resampled to it [default: 48000].
    #[arg(long, value_name = "HZ")]
    pub sample_rate: Option<u32>,
    /// Seconds skipped at the start of each clip [default: 0.5].
    #[arg(long, value_name = "SECONDS")]
    pub offset: Option<f32>,
    /// Seconds kept after the offset, zero-padded when the clip is shorter [default: 3.0].
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f32>,
    /// Analyse whole clips: no offset, no fixed duration (the frame count follows each clip).
    #[arg(long)]
    pub no_window: bool,
    /// Cepstral coefficients kept [default: 40].
    #[arg(long, value_name = "N")]
    pub n_mfcc: Option<usize>,
    /// FFT length in samples [default: 1024].
    #[arg(long, value_name = "SAMPLES")]
    pub n_fft: Option<usize>,
    /// Hamming window length in samples, at most n_fft [default: 512].
    #[arg(long, value_name = "SAMPLES")]
    pub win_length: Option<usize>,
    /// Samples between frames [default: 512].
    #[arg(long, value_name = "SAMPLES")]
    pub hop_length: Option<usize>,
    /// Mel bands [default: 128].
    #[arg(long, value_name = "N")]
    pub n_mels: Option<usize>,
    /// Lowest mel frequency in Hz [default: 0].
    #[arg(long, value_name = "HZ")]
    pub fmin: Option<f32>,
    /// Highest mel frequency in Hz [default: sample_rate / 2].
    #[arg(long, value_name = "HZ")]
    pub fmax: Option<f32>,
    /// Frame padding at the clip's edges: reflect (librosa 0.8, the paper) or constant
    /// (zeros, librosa ≥ 0.10) [default: reflect].
    #[arg(
        long,
        value_name = "MODE",
        value_parser = PossibleValuesParser::new(["reflect", "constant"])
            .map(|s| if s == "constant" { PadMode::Constant } else { PadMode::Reflect })
    )]
    pub pad_mode: Option<PadMode>,
    /// Dynamic range in dB kept below each clip's loudest mel bin [default: 80].
    #[arg(long, value_name = "DB", conflicts_with = "no_top_db")]
    pub top_db: Option<f32>,
    /// Keep the whole dynamic range (librosa `top_db=None`).
    #[arg(long)]
    pub no_top_db: bool,
    /// Power floor before the logarithm [default: 1e-10].
    #[arg(long, value_name = "POWER")]
    pub amin: Option<f32>,
    /// Power that maps to 0 dB [default: 1.0].
    #[arg(long, value_name = "POWER")]
    pub ref_power: Option<f32>,
}

impl FeatureFlags {
    /// The paper's config with the given flags applied, validated.
    pub fn to_config(&self) -> Result<FeatureConfig> {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *slot = v;
            }
        }
        let mut c = FeatureConfig::default();
        set(&mut c.sample_rate, self.sample_rate);
        set(&mut c.offset_s, self.offset);
        set(&mut c.duration_s, self.duration);
        set(&mut c.n_mfcc, self.n_mfcc);
        set(&mut c.n_fft, self.n_fft);
        set(&mut c.win_length, self.win_length);
        set(&mut c.hop_length, self.hop_length);
        set(&mut c.n_mels, self.n_mels);
        set(&mut c.fmin, self.fmin);
        set(&mut c.pad_mode, self.pad_mode);
        set(&mut c.amin, self.amin);
        set(&mut c.ref_power, self.ref_power);
        if self.fmax.is_some() {
            c.fmax = self.fmax;
        }
        if self.no_window {
            c.window = false;
        }
        if self.no_top_db {
            c.top_db = None;
        } else if self.top_db.is_some() {
            c.top_db = self.top_db;
        }
        c.validate().context("invalid feature options")?;
        Ok(c)
    }
}

/// One input file and where its array goes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Job {
    input: PathBuf,
    output: PathBuf,
}

/// Runs `sermo features`.
pub fn run(args: &FeaturesArgs) -> Result<()> {
    let cfg = args.config.to_config()?;
    let jobs = plan(&args.inputs, &args.output)?;
    ensure!(
        !jobs.is_empty(),
        "no .wav or .flac files found in {}",
        args.inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let extractor = FeatureExtractor::new(&cfg).context("invalid feature options")?;

    let bar = if jobs.len() > 1 {
        ProgressBar::new(jobs.len() as u64).with_style(
            ProgressStyle::with_template(
                "features {bar:40} {pos}/{len} files {elapsed}/{duration}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    } else {
        ProgressBar::hidden()
    };
    jobs.par_iter().try_for_each_init(
        || extractor.clone(),
        |extractor, job| -> Result<()> {
            extract(extractor, job)?;
            bar.inc(1);
            Ok(())
        },
    )?;
    bar.finish_and_clear();

    let shape = if cfg.window {
        format!("{} × {}", cfg.n_mfcc, cfg.n_frames())
    } else {
        format!("{} × frames", cfg.n_mfcc)
    };
    match jobs.as_slice() {
        [one] => eprintln!("wrote {} ({shape})", one.output.display()),
        _ => eprintln!(
            "wrote {} feature files ({shape}) under {}",
            jobs.len(),
            args.output.display()
        ),
    }
    Ok(())
}

/// Decodes one file, computes its MFCC and writes the `.npy`.
fn extract(extractor: &mut FeatureExtractor, job: &Job) -> Result<()> {
    // decode errors already name the file.
    let audio = sermo_dsp::decode_file(&job.input)?;
    let map = extractor
        .extract(&audio)
        .with_context(|| format!("{}: computing the MFCC", job.input.display()))?
        .map;
    let n_mfcc = extractor.config().n_mfcc;
    if let Some(dir) = job.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::npy::write_npy(&job.output, &[n_mfcc, map.len() / n_mfcc], &map)
}

/// Maps the inputs to output paths.
///
/// A single input file goes to `output` itself (or `output/<stem>.npy` when `output` is an
/// existing directory). Otherwise `output` is a directory: an input file `x.wav` goes to
/// `output/x.npy`, and a file `a/b/x.wav` found under an input directory `d` goes to
/// `output/a/b/x.npy` (its path relative to `d`). Two inputs landing on one output is an error.
fn plan(inputs: &[PathBuf], output: &Path) -> Result<Vec<Job>> {
    if let [single] = inputs
        && single.is_file()
    {
        let out = if output.is_dir() {
            output.join(npy_name(single)?)
        } else {
            output.to_path_buf()
        };
        return Ok(vec![Job {
            input: single.clone(),
            output: out,
        }]);
    }
    let mut by_output: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    for input in inputs {
        let found = if input.is_dir() {
            audio_files(input)?
                .into_iter()
                .map(|file| {
                    let rel = file.strip_prefix(input).unwrap_or(&file).to_path_buf();
                    (file, rel)
                })
                .collect::<Vec<_>>()
        } else if input.is_file() {
            vec![(
                input.clone(),
                PathBuf::from(input.file_name().unwrap_or_default()),
            )]
        } else {
            bail!("{}: no such file or directory", input.display());
        };
        for (file, rel) in found {
            let out = output.join(rel.with_file_name(npy_name(&file)?));
            if let Some(previous) = by_output.insert(out.clone(), file.clone())
                && previous != file
            {
                bail!(
                    "{} and {} would both be written to {}",
                    previous.display(),
                    file.display(),
                    out.display()
                );
            }
        }
    }
    let mut jobs: Vec<Job> = by_output
        .into_iter()
        .map(|(output, input)| Job { input, output })
        .collect();
    jobs.sort_by(|a, b| a.input.cmp(&b.input));
    Ok(jobs)
}

/// `<stem>.npy` for an input file.
fn npy_name(file: &Path) -> Result<PathBuf> {
    let stem = file
        .file_stem()
        .with_context(|| format!("{}: not a file name", file.display()))?;
    let mut name = stem.to_os_string();
    name.push(".npy");
    Ok(PathBuf::from(name))
}

/// `.wav` and `.flac` files under `dir`, recursively, sorted.
fn audio_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("reading {}", d.display()))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if is_audio(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("wav") || e.eq_ignore_ascii_case("flac"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults() {
        let flags = FeatureFlags {
            pad_mode: Some(PadMode::Constant),
            no_window: true,
            no_top_db: true,
            n_mfcc: Some(13),
            ..Default::default()
        };
        let c = flags.to_config().unwrap();
        assert_eq!(c.pad_mode, PadMode::Constant);
        assert!(!c.window);
        assert_eq!(c.top_db, None);
        assert_eq!(c.n_mfcc, 13);
        assert_eq!(c.n_fft, 1024);
        let bad = FeatureFlags {
            win_length: Some(4096),
            ..Default::default()
        };
        assert!(bad.to_config().is_err());
    }

    #[test]
    fn plan_maps_inputs_to_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("data/Actor_01")).unwrap();
        for f in [
            "data/Actor_01/a.wav",
            "data/b.FLAC",
            "data/notes.txt",
            "c.wav",
        ] {
            std::fs::write(root.join(f), b"").unwrap();
        }
        let out = root.join("out");
        let jobs = plan(&[root.join("data"), root.join("c.wav")], &out).unwrap();
        let pairs: Vec<(PathBuf, PathBuf)> = jobs
            .iter()
            .map(|j| {
                (
                    j.input.strip_prefix(root).unwrap().to_path_buf(),
                    j.output.strip_prefix(root).unwrap().to_path_buf(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("c.wav".into(), "out/c.npy".into()),
                ("data/Actor_01/a.wav".into(), "out/Actor_01/a.npy".into()),
                ("data/b.FLAC".into(), "out/b.npy".into()),
            ]
        );
        // One file → the output path itself.
        let one = plan(&[root.join("c.wav")], &root.join("c.npy")).unwrap();
        assert_eq!(one[0].output, root.join("c.npy"));
        // Collisions are refused.
        std::fs::write(root.join("data/c.wav"), b"").unwrap();
        assert!(plan(&[root.join("data"), root.join("c.wav")], &out).is_err());
        assert!(plan(&[root.join("missing.wav")], &out).is_err());
    }
}
