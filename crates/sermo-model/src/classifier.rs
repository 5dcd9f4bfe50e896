//! The one path from audio to label, used by the CLI (predict, eval, robustness, validation
//! during training), the wasm package and the tests alike.

use std::sync::{Mutex, PoisonError};

use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use sermo_dsp::{Audio, FeatureConfig, FeatureExtractor, Features, Span, timeline_spans};

use crate::input::{argmax, cross_entropy, model_input};
use crate::{Artifact, ArtifactMeta, ModelError, Scaler, SermoNet};

/// Maps per forward pass: keeps memory bounded when scoring thousands of maps.
const BATCH: usize = 64;

/// One classification.
///
/// Serialised (the CLI's `--json`, the npm package's `ClassifyResult`) as
/// `{label, voiced, probabilities: {name: p, …}, probabilitiesArray: [p, …], logits: [l, …]}`,
/// probabilities and logits in the artifact's label order.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The most probable label; `None` when the window holds no voice.
    pub label: Option<String>,
    /// Index of the most probable label, also for a window without voice (scoring uses it).
    pub class: usize,
    /// Whether the analysed window contains voice ([`sermo_dsp::is_voiced`]).
    pub voiced: bool,
    /// Probability per label, in label order.
    pub probabilities: Vec<f32>,
    /// Raw network outputs, in label order.
    pub logits: Vec<f32>,
    /// The label names, in output order.
    pub labels: Vec<String>,
}

impl Prediction {
    /// Cross-entropy of this prediction against class `target`.
    pub fn loss(&self, target: usize) -> f64 {
        cross_entropy(&self.logits, target)
    }
}

impl Serialize for Prediction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Prediction", 5)?;
        self.serialize_fields(&mut s)?;
        s.end()
    }
}

impl Prediction {
    /// The fields of its JSON object, for [`Prediction`] and [`Moment`] alike.
    fn serialize_fields<S: SerializeStruct>(&self, s: &mut S) -> Result<(), S::Error> {
        /// `{name: p}` in label order.
        struct Named<'a>(&'a [String], &'a [f32]);
        impl Serialize for Named<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.len()))?;
                for (name, p) in self.0.iter().zip(self.1) {
                    map.serialize_entry(name, p)?;
                }
                map.end()
            }
        }
        s.serialize_field("label", &self.label)?;
        s.serialize_field("voiced", &self.voiced)?;
        s.serialize_field("probabilities", &Named(&self.labels, &self.probabilities))?;
        s.serialize_field("probabilitiesArray", &self.probabilities)?;
        s.serialize_field("logits", &self.logits)
    }
}

/// One window of a recording's timeline and its classification.
///
/// Serialised as `{start, end, …}` followed by the [`Prediction`]'s fields: seconds into the
/// recording, then the same fields a single classification has.
#[derive(Debug, Clone, PartialEq)]
pub struct Moment {
    /// Where the window lies.
    pub span: Span,
    /// Its classification (no label where it holds no voice).
    pub prediction: Prediction,
}

impl Serialize for Moment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Moment", 7)?;
        s.serialize_field("start", &self.span.start_s)?;
        s.serialize_field("end", &self.span.end_s)?;
        self.prediction.serialize_fields(&mut s)?;
        s.end()
    }
}

/// Milliseconds spent in each stage of one classification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    /// Resampling, window, MFCC.
    pub features_ms: f64,
    /// Scaling, the network and reading the result back.
    pub inference_ms: f64,
}

/// Audio in, emotion out: the artifact's feature pipeline, scaler and network on one device.
///
/// Every method takes `&self`: the feature extractor's scratch space sits behind a lock that is
/// held only while one clip's features are computed (never across an `await`), so one
/// classifier serves interleaved calls.
pub struct Classifier {
    model: SermoNet,
    device: Device,
    meta: ArtifactMeta,
    scaler: Scaler,
    extractor: Mutex<FeatureExtractor>,
}

impl Classifier {
    /// Builds the network of `artifact` on `device`, in evaluation mode.
    pub fn new(artifact: &Artifact, device: &Device) -> Result<Self, ModelError> {
        Self::from_parts(
            artifact.build(device)?,
            artifact.meta.clone(),
            artifact.scaler.clone(),
            device,
        )
    }

    /// A classifier over a network already on `device` (in evaluation mode: `model.valid()`),
    /// as training validates its current weights.
    pub fn from_parts(
        model: SermoNet,
        meta: ArtifactMeta,
        scaler: Scaler,
        device: &Device,
    ) -> Result<Self, ModelError> {
        scaler.check(meta.model.n_mfcc * meta.model.n_frames)?;
        Ok(Self {
            extractor: Mutex::new(FeatureExtractor::new(&meta.features)?),
            model,
            device: device.clone(),
            meta,
            scaler,
        })
    }

    /// Label names in output order.
    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }

    /// The artifact's metadata.
    pub fn meta(&self) -> &ArtifactMeta {
        &self.meta
    }

    /// The feature parameters audio goes through.
    pub fn feature_config(&self) -> &FeatureConfig {
        &self.meta.features
    }

    /// The device the network runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The network itself.
    pub fn model(&self) -> &SermoNet {
        &self.model
    }

    /// The raw MFCC map of a clip and whether its window is voiced: resampled, windowed and
    /// transformed exactly as in training (scaling happens in [`Classifier::predict`]).
    pub fn features(&self, audio: &Audio) -> Result<Features, ModelError> {
        let mut extractor = self
            .extractor
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(extractor.extract(audio)?)
    }

    /// Logits and probabilities of up to [`BATCH`] raw maps, still on the device.
    fn forward(&self, features: &[Features]) -> Result<(Tensor<2>, Tensor<2>), ModelError> {
        let shape = [self.meta.model.n_mfcc, self.meta.model.n_frames];
        let maps = features.iter().map(|f| f.map.as_slice());
        Ok(self
            .model
            .infer(model_input(maps, &self.scaler, shape, &self.device)?))
    }

    fn predictions(
        &self,
        features: &[Features],
        logits: TensorData,
        probabilities: TensorData,
    ) -> Result<Vec<Prediction>, ModelError> {
        let read = |d: TensorData| {
            d.try_to_vec::<f32>()
                .map_err(|e| ModelError::Backend(format!("reading results: {e:?}")))
        };
        let (logits, probabilities) = (read(logits)?, read(probabilities)?);
        let classes = self.meta.labels.len();
        Ok(logits
            .chunks(classes)
            .zip(probabilities.chunks(classes))
            .zip(features)
            .map(|((l, p), f)| {
                let class = argmax(l);
                Prediction {
                    label: f.voiced.then(|| self.meta.labels[class].clone()),
                    class,
                    voiced: f.voiced,
                    probabilities: p.to_vec(),
                    logits: l.to_vec(),
                    labels: self.meta.labels.clone(),
                }
            })
            .collect())
    }

    /// Classifies raw maps (from [`Classifier::features`], or a feature cache), in batches;
    /// synchronous read-back, for native backends.
    pub fn predict(&self, features: &[Features]) -> Result<Vec<Prediction>, ModelError> {
        let mut out = Vec::with_capacity(features.len());
        for chunk in features.chunks(BATCH) {
            let (logits, probabilities) = self.forward(chunk)?;
            let read = |t: Tensor<2>| {
                t.try_into_data()
                    .map_err(|e| ModelError::Backend(format!("{e:?}")))
            };
            out.extend(self.predictions(chunk, read(logits)?, read(probabilities)?)?);
        }
        Ok(out)
    }

    /// As [`Classifier::predict`], with asynchronous read-back: the only kind WebGPU in a
    /// browser allows.
    pub async fn predict_async(
        &self,
        features: &[Features],
    ) -> Result<Vec<Prediction>, ModelError> {
        let mut out = Vec::with_capacity(features.len());
        for chunk in features.chunks(BATCH) {
            let (logits, probabilities) = self.forward(chunk)?;
            let logits = logits
                .into_data_async()
                .await
                .map_err(|e| ModelError::Backend(format!("{e:?}")))?;
            let probabilities = probabilities
                .into_data_async()
                .await
                .map_err(|e| ModelError::Backend(format!("{e:?}")))?;
            out.extend(self.predictions(chunk, logits, probabilities)?);
        }
        Ok(out)
    }

    /// Classifies one clip (synchronous; native backends).
    pub fn classify(&self, audio: &Audio) -> Result<Prediction, ModelError> {
        let features = self.features(audio)?;
        one(self.predict(std::slice::from_ref(&features))?)
    }

    /// Classifies one clip with asynchronous read-back (browsers), timing its two stages with
    /// `clock` (milliseconds; `performance.now` in a page).
    pub async fn classify_async(
        &self,
        audio: &Audio,
        clock: impl Fn() -> f64,
    ) -> Result<(Prediction, Timings), ModelError> {
        let t0 = clock();
        let features = self.features(audio)?;
        let t1 = clock();
        let prediction = one(self.predict_async(std::slice::from_ref(&features)).await?)?;
        let timings = Timings {
            features_ms: t1 - t0,
            inference_ms: clock() - t1,
        };
        Ok((prediction, timings))
    }

    /// Where the windows of `audio`'s timeline lie, `hop_s` seconds apart
    /// ([`sermo_dsp::timeline_spans`]).
    pub fn timeline_spans(&self, audio: &Audio, hop_s: f64) -> Result<Vec<Span>, ModelError> {
        let window_s = f64::from(self.meta.features.duration_s);
        Ok(timeline_spans(
            audio.samples.len(),
            audio.sample_rate,
            window_s,
            hop_s,
        )?)
    }

    /// The features of a batch of timeline windows.
    fn features_at(&self, audio: &Audio, spans: &[Span]) -> Result<Vec<Features>, ModelError> {
        let mut extractor = self
            .extractor
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        spans
            .iter()
            .map(|span| Ok(extractor.extract_at(audio, span.start_s)?))
            .collect()
    }

    /// Emotion over time: every window of `audio`, `hop_s` seconds apart, classified
    /// (synchronous; native backends). Windows are computed and scored a batch at a time, so a
    /// long recording never holds all its maps at once.
    pub fn timeline(&self, audio: &Audio, hop_s: f64) -> Result<Vec<Moment>, ModelError> {
        let spans = self.timeline_spans(audio, hop_s)?;
        let mut moments = Vec::with_capacity(spans.len());
        for chunk in spans.chunks(BATCH) {
            let predictions = self.predict(&self.features_at(audio, chunk)?)?;
            moments.extend(moments_of(chunk, predictions));
        }
        Ok(moments)
    }

    /// As [`Classifier::timeline`], with asynchronous read-back (browsers).
    pub async fn timeline_async(
        &self,
        audio: &Audio,
        hop_s: f64,
    ) -> Result<Vec<Moment>, ModelError> {
        let spans = self.timeline_spans(audio, hop_s)?;
        let mut moments = Vec::with_capacity(spans.len());
        for chunk in spans.chunks(BATCH) {
            let predictions = self.predict_async(&self.features_at(audio, chunk)?).await?;
            moments.extend(moments_of(chunk, predictions));
        }
        Ok(moments)
    }
}

fn moments_of(spans: &[Span], predictions: Vec<Prediction>) -> impl Iterator<Item = Moment> {
    spans
        .iter()
        .zip(predictions)
        .map(|(&span, prediction)| Moment { span, prediction })
}

fn one(mut predictions: Vec<Prediction>) -> Result<Prediction, ModelError> {
    predictions
        .pop()
        .ok_or_else(|| ModelError::Backend("no prediction came back".into()))
}
