//! The browser surface of sermo: one exported [`Classifier`], built with wasm-bindgen.
//!
//! A thin boundary over [`sermo_model::Classifier`], the one path from audio to label that the
//! CLI uses too: audio crosses as a `Float32Array` and its sample rate, the model as the
//! artifact's bytes (a `Uint8Array`), and results come back as plain JavaScript objects.
//!
//! - Backends: the crate is built twice (features `cpu` and `webgpu`; see backend.rs). In a
//!   build with WebGPU, `"auto"` tries it (asynchronous device setup, the adapter requested
//!   twice) and, failing that or finding only a software adapter (SwiftShader, slower than the
//!   CPU backend), falls back to the CPU backend when the build has one, or fails with the
//!   reason, which the package's worker reports when it moves to the CPU module. In the CPU
//!   module `"auto"` is the CPU. `"webgpu"` and `"cpu"` force one (or fail in a build without it).
//! - Read-back is asynchronous only ([`sermo_model::Classifier::classify_async`]), the only
//!   kind WebGPU in a browser allows; the CPU backend takes the same path.
//! - The result is [`sermo_model::Prediction`] serialised as the CLI's `--json` serialises it,
//!   plus the backend and the timings: one shape, declared once for TypeScript below.
//!
//! It is meant to run inside a Web Worker (the npm package `sermo` does that), so that feature
//! extraction and inference never block a page.

mod backend;
mod result;

use std::rc::Rc;

use burn::tensor::Device;
use js_sys::{Float32Array, Function, Promise, Reflect, Uint8Array};
use serde::Serialize;
use sermo_dsp::{Audio, DspError, FeatureConfig, FeatureExtractor, audio::MAX_SAMPLE_RATE};
use sermo_model::{Artifact, Seal};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

pub use backend::{Backend, Preference};
use result::{ClassifyResult, TimelineResult};

/// The global property that holds the last panic message.
///
/// A panic aborts the module (wasm32 has no unwinding), so it cannot come back as an error:
/// the hook leaves the message where the Worker's error handler can read it and report why the
/// module died (for example a WebGPU kernel the browser refused), instead of `unreachable`.
pub const PANIC_PROPERTY: &str = "sermoPanic";

/// Installs a panic hook that prints Rust panics to the console and keeps the message in
/// `globalThis.sermoPanic`.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let _ = Reflect::set(
            &js_sys::global(),
            &JsValue::from_str(PANIC_PROPERTY),
            &JsValue::from_str(&info.to_string()),
        );
        console_error_panic_hook::hook(info);
    }));
}

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// `performance.now()` of the current global (window or worker), else `Date.now()`.
fn now_ms() -> f64 {
    let global = js_sys::global();
    Reflect::get(&global, &JsValue::from_str("performance"))
        .ok()
        .filter(|p| p.is_object())
        .and_then(|p| {
            let now: Function = Reflect::get(&p, &JsValue::from_str("now"))
                .ok()?
                .dyn_into()
                .ok()?;
            now.call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

/// Reports a progress line to an optional JavaScript callback.
fn report(on_status: Option<&Function>, message: &str) {
    if let Some(f) = on_status {
        // A failing progress callback must not fail the load.
        let _ = f.call1(&JsValue::NULL, &JsValue::from_str(message));
    }
}

/// Checks a JavaScript sample rate: a whole number of Hz in 1..=[`MAX_SAMPLE_RATE`] (the
/// decoder's limit).
fn sample_rate(rate: f64) -> Result<u32, String> {
    if (1.0..=f64::from(MAX_SAMPLE_RATE)).contains(&rate) && rate.fract() == 0.0 {
        Ok(rate as u32)
    } else {
        Err(format!(
            "sampleRate must be a whole number of Hz between 1 and {MAX_SAMPLE_RATE}, got {rate}"
        ))
    }
}

/// Mono samples from JavaScript at a checked sample rate.
fn audio(samples: Vec<f32>, sample_rate_hz: f64) -> Result<Audio, JsError> {
    let rate = sample_rate(sample_rate_hz).map_err(|e| JsError::new(&e))?;
    Ok(Audio::new(samples, rate))
}

/// Builds the network on `device` and runs it once on a silent input: this compiles the
/// kernels (the first inference is the slow one) and proves the backend computes finite
/// numbers before anyone relies on it.
async fn build(artifact: &Artifact, device: &Device) -> Result<sermo_model::Classifier, String> {
    let classifier = sermo_model::Classifier::new(artifact, device).map_err(|e| e.to_string())?;
    let silence = Audio::new(vec![0.0; 1], artifact.meta.features.sample_rate);
    let probe = classifier
        .classify_async(&silence, || 0.0)
        .await
        .map(|(p, _)| vec![p])
        .map_err(|e| e.to_string())?;
    let finite = probe.iter().all(|p| {
        p.logits
            .iter()
            .chain(&p.probabilities)
            .all(|v| v.is_finite())
    });
    if probe.len() != 1 || !finite {
        return Err("the warm-up inference gave non-finite outputs".into());
    }
    Ok(classifier)
}

/// Provenance and shape of the model, as JSON for `modelInfo`.
fn model_info(artifact: &Artifact) -> String {
    let meta = &artifact.meta;
    serde_json::json!({
        "format": meta.format,
        "version": meta.version,
        "labels": meta.labels,
        "parameters": artifact.num_params(),
        "model": meta.model,
        "features": meta.features,
        "provenance": meta.provenance,
    })
    .to_string()
}

struct Inner {
    model: sermo_model::Classifier,
    labels: Vec<String>,
    backend: Backend,
    fallback_reason: Option<String>,
    adapter: Option<String>,
    model_info: String,
    feature_config: String,
    /// Why the model's bytes could not be checked (an artifact without a recorded hash).
    warning: Option<String>,
}

/// A speech emotion classifier: a sermo model artifact on WebGPU or the CPU.
///
/// Create it with `await Classifier.create(bytes, "auto")`, classify with
/// `await classifier.classify(samples, sampleRate)`, release it with `free()`.
#[wasm_bindgen]
pub struct Classifier {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
impl Classifier {
    /// Loads a model artifact (the bytes of a sermo `.safetensors` file) onto a backend.
    ///
    /// `backend`: `"auto"` (default: WebGPU if a hardware adapter is available and computes,
    /// else the CPU), `"webgpu"` (WebGPU, a software adapter included, or an error) or
    /// `"cpu"`. `onStatus`, if given, is called with progress lines. Runs one warm-up
    /// inference before it resolves.
    #[wasm_bindgen(js_name = create)]
    pub async fn create(
        artifact: Uint8Array,
        backend: Option<String>,
        #[wasm_bindgen(js_name = onStatus)] on_status: Option<Function>,
    ) -> Result<Classifier, JsError> {
        let on_status = on_status.as_ref();
        let preference = parse_preference(backend.as_deref())?;
        report(on_status, "reading the model");
        let (artifact, seal) = Artifact::read(&artifact.to_vec()).map_err(js_err)?;
        let warning = (seal == Seal::Missing).then(|| {
            "the model records no SHA-256 of its weights (written before sermo recorded one), \
             so damage to its bytes cannot be detected"
                .to_string()
        });
        if let Some(w) = &warning {
            report(on_status, &format!("warning: {w}"));
        }

        // "auto" tries WebGPU only in a build that has it: the CPU module leaves the choice
        // to the package's worker, which loads the WebGPU module only after an adapter check.
        let try_webgpu = match preference {
            Preference::Cpu => false,
            Preference::WebGpu => true,
            Preference::Auto => cfg!(feature = "webgpu"),
        };
        let mut fallback_reason = None;
        if try_webgpu {
            report(on_status, "starting WebGPU");
            let attempt = match backend::webgpu().await {
                // A software adapter emulates the GPU on the CPU, many times slower than the
                // CPU backend itself: "auto" takes it only when nothing else is there.
                Ok(gpu) if gpu.software && preference == Preference::Auto => Err(
                    "WebGPU has only a software adapter here (the GPU emulated on the CPU), \
                     slower than the CPU backend"
                        .into(),
                ),
                Ok(gpu) => {
                    report(on_status, "building the network on WebGPU and warming up");
                    build(&artifact, &gpu.device)
                        .await
                        .map(|model| (model, gpu.adapter))
                        .map_err(|e| format!("WebGPU failed: {e}"))
                }
                Err(reason) => Err(reason),
            };
            match attempt {
                Ok((model, adapter)) => {
                    return Ok(Self::wrap(
                        &artifact,
                        model,
                        Backend::WebGpu,
                        None,
                        Some(adapter),
                        warning,
                    ));
                }
                Err(reason) if preference == Preference::Auto => fallback_reason = Some(reason),
                Err(reason) => {
                    return Err(JsError::new(&format!("WebGPU was requested: {reason}")));
                }
            }
        }
        // In the WebGPU module (no CPU backend) a failed "auto" ends here with WebGPU's reason,
        // which the worker reports when it falls back to the CPU module.
        let device = backend::cpu()
            .map_err(|no_cpu| JsError::new(fallback_reason.as_deref().unwrap_or(&no_cpu)))?;
        report(on_status, "building the network on the CPU and warming up");
        let model = build(&artifact, &device).await.map_err(js_err)?;
        Ok(Self::wrap(
            &artifact,
            model,
            Backend::Cpu,
            fallback_reason,
            None,
            warning,
        ))
    }

    fn wrap(
        artifact: &Artifact,
        model: sermo_model::Classifier,
        backend: Backend,
        fallback_reason: Option<String>,
        adapter: Option<String>,
        warning: Option<String>,
    ) -> Classifier {
        let feature_config =
            serde_json::to_string(&artifact.meta.features).unwrap_or_else(|_| "{}".into());
        Classifier {
            inner: Rc::new(Inner {
                labels: model.labels().to_vec(),
                model,
                backend,
                fallback_reason,
                adapter,
                model_info: model_info(artifact),
                feature_config,
                warning,
            }),
        }
    }

    /// A warning about the model (an older artifact whose bytes could not be verified);
    /// `undefined` when there is none.
    #[wasm_bindgen(getter)]
    pub fn warning(&self) -> Option<String> {
        self.inner.warning.clone()
    }

    /// The backend in use: `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.inner.backend.name().into()
    }

    /// Why `"auto"` fell back to the CPU (no WebGPU in this browser, no adapter, a failed
    /// warm-up…); `undefined` when it did not.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.inner.fallback_reason.clone()
    }

    /// The WebGPU adapter as the browser describes it; `undefined` on the CPU.
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> Option<String> {
        self.inner.adapter.clone()
    }

    /// Label names in output order.
    #[wasm_bindgen(getter)]
    pub fn labels(&self) -> Vec<String> {
        self.inner.labels.clone()
    }

    /// The feature parameters (sample rate, window, MFCC) as JSON.
    #[wasm_bindgen(getter, js_name = featureConfig)]
    pub fn feature_config(&self) -> String {
        self.inner.feature_config.clone()
    }

    /// The model's provenance (name, trained, data, protocol, accuracies…), labels, parameter
    /// count and configs, as JSON.
    #[wasm_bindgen(getter, js_name = modelInfo)]
    pub fn model_info(&self) -> String {
        self.inner.model_info.clone()
    }

    /// Classifies mono audio: `samples` in [-1, 1] at `sampleRate` Hz.
    ///
    /// The audio goes through the model's own pipeline: resampled to the analysis rate, cut to
    /// the analysis window (the paper's: skip 0.5 s, keep 3 s, zero-pad), MFCC, standardised,
    /// network. Resolves to a `ClassifyResult`; a window without voice has `label: null` and
    /// `voiced: false`.
    #[wasm_bindgen(unchecked_return_type = "Promise<ClassifyResult>")]
    pub fn classify(
        &self,
        samples: Float32Array,
        #[wasm_bindgen(js_name = sampleRate)] sample_rate_hz: f64,
    ) -> Result<Promise, JsError> {
        let audio = audio(samples.to_vec(), sample_rate_hz)?;
        let inner = Rc::clone(&self.inner);
        Ok(future_to_promise(async move {
            let (prediction, timings) = inner
                .model
                .classify_async(&audio, now_ms)
                .await
                .map_err(|e| JsValue::from(js_err(e)))?;
            let result = ClassifyResult {
                prediction: &prediction,
                backend: inner.backend.name(),
                timings,
            };
            to_js(&result).map_err(JsValue::from)
        }))
    }

    /// Emotion over time: every analysis window of mono audio (`samples` in [-1, 1] at
    /// `sampleRate` Hz), `hopSeconds` apart, classified — the windows and numbers of
    /// `sermo predict --timeline --hop hopSeconds`. Resolves to a `TimelineResult`.
    #[wasm_bindgen(unchecked_return_type = "Promise<TimelineResult>")]
    pub fn timeline(
        &self,
        samples: Float32Array,
        #[wasm_bindgen(js_name = sampleRate)] sample_rate_hz: f64,
        #[wasm_bindgen(js_name = hopSeconds)] hop_s: f64,
    ) -> Result<Promise, JsError> {
        let audio = audio(samples.to_vec(), sample_rate_hz)?;
        let inner = Rc::clone(&self.inner);
        Ok(future_to_promise(async move {
            let start = now_ms();
            let timeline = inner
                .model
                .timeline_async(&audio, hop_s)
                .await
                .map_err(|e| JsValue::from(js_err(e)))?;
            let result = TimelineResult {
                hop: hop_s,
                timeline: &timeline,
                backend: inner.backend.name(),
                ms: now_ms() - start,
            };
            to_js(&result).map_err(JsValue::from)
        }))
    }
}

/// Decodes a WAV or FLAC file with sermo's own decoder (the CLI's: the same samples, mixed to
/// mono the same way, at the file's own rate), for `classify` and `timeline`.
///
/// Resolves to `{samples, sampleRate, seconds}`; `undefined` when the bytes are not WAV or FLAC
/// (the package then decodes them with Web Audio). A WAV or FLAC file that cannot be read is
/// an error naming `name` and the reason.
#[wasm_bindgen]
pub fn decode(bytes: &[u8], name: &str) -> Result<JsValue, JsError> {
    let audio = match sermo_dsp::decode(bytes, name) {
        Ok(audio) => audio,
        Err(DspError::NotAudio { .. }) => return Ok(JsValue::UNDEFINED),
        Err(e) => return Err(js_err(e)),
    };
    let out = js_sys::Object::new();
    let set = |key: &str, value: JsValue| Reflect::set(&out, &JsValue::from_str(key), &value);
    let seconds = audio.duration_s();
    set("sampleRate", JsValue::from(audio.sample_rate))
        .and_then(|_| set("seconds", JsValue::from(seconds)))
        .and_then(|_| {
            set(
                "samples",
                Float32Array::from(audio.samples.as_slice()).into(),
            )
        })
        .map_err(|_| JsError::new("cannot build the decoded audio"))?;
    Ok(out.into())
}

/// The backend a name asks for, as `"auto"`, `"webgpu"` or `"cpu"` (`undefined` or `""`:
/// `"auto"`); an error names the accepted ones. The package's worker asks the CPU module before
/// it decides whether to fetch the WebGPU module.
#[wasm_bindgen(js_name = backendPreference)]
pub fn backend_preference(name: Option<String>) -> Result<String, JsError> {
    Ok(parse_preference(name.as_deref())?.name().into())
}

fn parse_preference(name: Option<&str>) -> Result<Preference, JsError> {
    name.unwrap_or("auto")
        .parse()
        .map_err(|e: String| JsError::new(&e))
}

/// A plain JavaScript object, built as JSON and parsed once: one call into JavaScript instead
/// of one per field.
fn to_js(value: &impl Serialize) -> Result<JsValue, JsError> {
    let json = serde_json::to_string(value).map_err(js_err)?;
    js_sys::JSON::parse(&json).map_err(|_| JsError::new("cannot build the result"))
}

/// The MFCC map of mono audio (`[n_mfcc, n_frames]`, row-major; 40 × 282 for the paper's
/// parameters), without scaling or network: for benchmarking the DSP alone.
///
/// `featureConfig` is a JSON feature configuration (as `Classifier.featureConfig` returns);
/// omitted, the paper's defaults.
#[wasm_bindgen]
pub fn mfcc(
    samples: &[f32],
    #[wasm_bindgen(js_name = sampleRate)] sample_rate_hz: f64,
    #[wasm_bindgen(js_name = featureConfig)] feature_config: Option<String>,
) -> Result<Float32Array, JsError> {
    let cfg: FeatureConfig = match feature_config {
        Some(json) => serde_json::from_str(&json).map_err(js_err)?,
        None => FeatureConfig::default(),
    };
    let audio = audio(samples.to_vec(), sample_rate_hz)?;
    let features = FeatureExtractor::new(&cfg)
        .and_then(|mut extractor| extractor.extract(&audio))
        .map_err(js_err)?;
    Ok(Float32Array::from(features.map.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_rates_are_checked() {
        assert_eq!(sample_rate(48_000.0).ok(), Some(48_000));
        assert_eq!(sample_rate(44_100.0).ok(), Some(44_100));
        for bad in [0.0, -1.0, 44_100.5, f64::NAN, f64::INFINITY, 1e9] {
            assert!(sample_rate(bad).is_err(), "{bad}");
        }
    }
}
