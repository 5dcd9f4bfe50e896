//! The one path from audio to label, used by the CLI, the wasm package and the tests alike.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use sermo_dsp::{Audio, FeatureConfig, Mfcc};

use crate::{Artifact, ArtifactMeta, ModelError, Scaler, SermoNet};

/// One classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The most probable label; `None` when the window holds no voice.
    pub label: Option<String>,
    /// Probability per label, in the artifact's label order.
    pub probabilities: Vec<f32>,
    /// Raw network outputs, in the artifact's label order.
    pub logits: Vec<f32>,
    /// Whether the analysed window contains voice (energy above [`VOICE_FLOOR_DBFS`]).
    pub voiced: bool,
}

/// Windows whose loudest 20 ms frame is quieter than this (dB relative to full scale) hold no
/// voice: a sermo label for silence or room hum would be noise, so none is given.
pub const VOICE_FLOOR_DBFS: f32 = -50.0;

/// Whether a 48 kHz window has a 20 ms frame louder than [`VOICE_FLOOR_DBFS`].
pub fn is_voiced(samples: &[f32], sample_rate: u32) -> bool {
    let frame = (sample_rate as usize / 50).max(1);
    let floor = 10f32.powf(VOICE_FLOOR_DBFS / 20.0);
    samples.chunks(frame).any(|c| {
        let power = c.iter().map(|x| x * x).sum::<f32>() / c.len() as f32;
        power.sqrt() > floor
    })
}

/// Audio in, emotion out: the artifact's feature pipeline, scaler and network on one device.
pub struct Classifier {
    model: SermoNet,
    device: Device,
    meta: ArtifactMeta,
    scaler: Scaler,
    mfcc: Mfcc,
}

impl Classifier {
    /// Builds the network of `artifact` on `device`, in evaluation mode.
    pub fn new(artifact: &Artifact, device: &Device) -> Result<Self, ModelError> {
        Ok(Self {
            model: artifact.build(device)?,
            device: device.clone(),
            meta: artifact.meta.clone(),
            scaler: artifact.scaler.clone(),
            mfcc: Mfcc::new(&artifact.meta.features)?,
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

    /// The standardised MFCC map of a clip and whether its window is voiced: resampled,
    /// windowed and transformed exactly as in training.
    pub fn features(&mut self, audio: &Audio) -> Result<(Vec<f32>, bool), ModelError> {
        let cfg = &self.meta.features;
        let wave = sermo_dsp::waveform(audio, cfg)?;
        let voiced = is_voiced(&wave, cfg.sample_rate);
        let mut map = vec![0f32; cfg.n_mfcc * self.mfcc.n_frames(wave.len())];
        self.mfcc.compute(&wave, &mut map)?;
        self.scaler.apply(&mut map)?;
        Ok((map, voiced))
    }

    /// Stacks standardised maps into the network's input `[batch, 1, n_mfcc, n_frames]`.
    fn input(&self, maps: &[Vec<f32>]) -> Result<Tensor<4>, ModelError> {
        let [h, w] = [self.meta.model.n_mfcc, self.meta.model.n_frames];
        let mut flat = Vec::with_capacity(maps.len() * h * w);
        for map in maps {
            if map.len() != h * w {
                return Err(ModelError::Shape(format!(
                    "a feature map has {} values, the network takes {h}×{w}",
                    map.len()
                )));
            }
            flat.extend_from_slice(map);
        }
        let data = TensorData::new(flat, [maps.len(), 1, h, w]);
        Ok(Tensor::from_data(data, &self.device))
    }

    fn predictions(
        &self,
        logits: TensorData,
        probabilities: TensorData,
        voiced: &[bool],
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
            .zip(voiced)
            .map(|((l, p), &voiced)| {
                let best = p
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                Prediction {
                    label: voiced.then(|| self.meta.labels[best].clone()),
                    probabilities: p.to_vec(),
                    logits: l.to_vec(),
                    voiced,
                }
            })
            .collect())
    }

    /// Classifies standardised maps (from [`Classifier::features`]); synchronous read-back,
    /// for native backends.
    pub fn predict_maps(
        &self,
        maps: &[Vec<f32>],
        voiced: &[bool],
    ) -> Result<Vec<Prediction>, ModelError> {
        let (logits, probabilities) = self.model.infer(self.input(maps)?);
        let read = |t: Tensor<2>| {
            t.try_into_data()
                .map_err(|e| ModelError::Backend(format!("{e:?}")))
        };
        self.predictions(read(logits)?, read(probabilities)?, voiced)
    }

    /// As [`Classifier::predict_maps`], with asynchronous read-back: the only kind WebGPU in
    /// a browser allows.
    pub async fn predict_maps_async(
        &self,
        maps: &[Vec<f32>],
        voiced: &[bool],
    ) -> Result<Vec<Prediction>, ModelError> {
        let (logits, probabilities) = self.model.infer(self.input(maps)?);
        let logits = logits
            .into_data_async()
            .await
            .map_err(|e| ModelError::Backend(format!("{e:?}")))?;
        let probabilities = probabilities
            .into_data_async()
            .await
            .map_err(|e| ModelError::Backend(format!("{e:?}")))?;
        self.predictions(logits, probabilities, voiced)
    }

    /// Classifies one clip (synchronous; native backends).
    pub fn classify(&mut self, audio: &Audio) -> Result<Prediction, ModelError> {
        let (map, voiced) = self.features(audio)?;
        self.predict_maps(&[map], &[voiced])?
            .pop()
            .ok_or_else(|| ModelError::Backend("no prediction came back".into()))
    }

    /// Classifies one clip with asynchronous read-back (browsers).
    pub async fn classify_async(&mut self, audio: &Audio) -> Result<Prediction, ModelError> {
        let (map, voiced) = self.features(audio)?;
        self.predict_maps_async(&[map], &[voiced])
            .await?
            .pop()
            .ok_or_else(|| ModelError::Backend("no prediction came back".into()))
    }
}
