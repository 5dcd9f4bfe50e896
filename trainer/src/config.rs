//! Everything that defines a training run, saved as the run's `config.json` (and inside its
//! report.json): the protocol, the seed, the data, the model config, the optimiser and the
//! schedule. `sermo train --resume` reads it back, so its JSON stays readable by every later
//! version: the test below parses a config.json as the first versions wrote it.

use burn::config::Config;
use burn::optim::SgdConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use serde::{Deserialize, Serialize};
use sermo_data::{FreshAugment, LabelSet, Protocol};
use sermo_dsp::{AugmentConfig, AugmentPolicy, FeatureConfig};
use sermo_model::SermoNetConfig;

use crate::args::TrainArgs;
use crate::backend::Backend;
use crate::schedule::LrSchedule;

/// The run's configuration.
///
/// A burn [`Config`] by hand, not by `#[derive(Config)]`: the derive writes every field and
/// requires every field on reading (it passes no serde attributes through), while config.json
/// must read files written before `host_dropout`, `fresh`, `lr_schedule`, `label_smoothing` and
/// `labels` existed, and must leave the last four out for the paper's recipe, as it always has
/// (the optimiser's part is a derived Config: [`OptimizerConfig`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Protocol of the split (`--protocol` and its parameters). Default: `paper`.
    pub protocol: Protocol,
    /// Seed of the split, the noise, the initial weights, dropout and shuffling. Default: 0.
    pub seed: u64,
    /// Epochs of the run (`--epochs`; the one field a resume may change). Default: 200.
    pub epochs: usize,
    /// Examples per optimiser step. Default: 16.
    pub batch_size: usize,
    /// SGD's learning rate, momentum, dampening and weight decay, written at the top level of
    /// the JSON as they always were.
    #[serde(flatten)]
    pub optimizer: OptimizerConfig,
    /// The fixed noisy copies of each clip in the feature cache. Default: 3 copies, 15–30 dB.
    pub augment: AugmentConfig,
    /// The feature pipeline (the paper's unless `--align`/`--cmvn`).
    pub features: FeatureConfig,
    /// The network (the paper's; its `num_classes` is the label set's size).
    pub model: SermoNetConfig,
    /// Dropout masks drawn on the host (`sermo_model::dropout`: the same Bernoulli masks, far
    /// cheaper on the CPU) instead of by burn on the device. New CPU runs use it; runs begun
    /// before it existed resume with burn's masks, so they continue exactly as they began.
    #[serde(default)]
    pub host_dropout: bool,
    /// Augmentation drawn afresh every epoch (`--fresh`); none in the paper's recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh: Option<FreshAugment>,
    /// Learning-rate schedule (`--lr-schedule`); constant in the paper's recipe.
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub lr_schedule: LrSchedule,
    /// Label smoothing ε (`--label-smoothing`); 0 in the paper's recipe.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_smoothing: f32,
    /// The classes learnt (`--labels`): the paper's 8, or 7 with calm merged into neutral.
    #[serde(default, skip_serializing_if = "LabelSet::is_default")]
    pub labels: LabelSet,
}

impl Config for TrainConfig {}

impl TrainConfig {
    /// The config of a new run, from the flags.
    pub fn new_run(args: &TrainArgs) -> Self {
        TrainConfig {
            protocol: args.protocol.protocol(),
            seed: args.seed,
            epochs: 200,
            batch_size: args.batch_size,
            optimizer: OptimizerConfig::new()
                .with_lr(args.lr)
                .with_momentum(args.momentum)
                .with_weight_decay(args.weight_decay),
            augment: AugmentConfig {
                copies: args.data.copies,
                snr_low: args.data.snr_low,
                snr_high: args.data.snr_high,
            },
            features: args.features.config(),
            model: SermoNetConfig::paper().with_num_classes(args.labels.len()),
            host_dropout: args.backend == Backend::Cpu,
            fresh: args.fresh.map(|copies| FreshAugment {
                copies,
                policy: AugmentPolicy::default(),
            }),
            lr_schedule: args.lr_schedule,
            label_smoothing: args.label_smoothing,
            labels: args.labels,
        }
    }
}

fn is_zero(x: &f32) -> bool {
    *x == 0.0
}

/// SGD as PyTorch's `torch.optim.SGD` runs it for the paper: heavy-ball momentum with
/// dampening, L2 weight decay added to the gradient.
#[derive(Config, Debug, PartialEq)]
pub struct OptimizerConfig {
    /// Base learning rate (the schedule starts from it). Default: 0.01.
    #[config(default = 0.01)]
    pub lr: f64,
    /// Momentum factor. Default: 0.9.
    #[config(default = 0.9)]
    pub momentum: f64,
    /// Momentum dampening. Default: 0 (PyTorch's; burn's own default is 0.1).
    #[config(default = 0.0)]
    pub dampening: f64,
    /// L2 weight decay. Default: 1e-4.
    #[config(default = 1e-4)]
    pub weight_decay: f32,
}

impl OptimizerConfig {
    /// burn's SGD with these settings.
    pub fn sgd(&self) -> SgdConfig {
        SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(self.momentum)
                    .with_dampening(self.dampening),
            ))
            .with_weight_decay(Some(WeightDecayConfig::new(self.weight_decay)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// config.json of `sermo train --copies 1 --seed 7 --epochs 3` as written before the
    /// optimiser's fields moved into [`OptimizerConfig`] (commit ecc907c).
    const PAPER: &str = r#"{
  "protocol": {
    "name": "paper"
  },
  "seed": 7,
  "epochs": 3,
  "batch_size": 16,
  "lr": 0.01,
  "momentum": 0.9,
  "dampening": 0.0,
  "weight_decay": 0.0001,
  "augment": {
    "copies": 1,
    "snr_low": 15,
    "snr_high": 30
  },
  "features": {
    "sample_rate": 48000,
    "offset_s": 0.5,
    "duration_s": 3.0,
    "window": true,
    "n_mfcc": 40,
    "n_fft": 1024,
    "win_length": 512,
    "hop_length": 512,
    "n_mels": 128,
    "fmin": 0.0,
    "fmax": null,
    "pad_mode": "reflect",
    "top_db": 80.0,
    "amin": 1e-10,
    "ref_power": 1.0
  },
  "model": {
    "num_classes": 8,
    "n_mfcc": 40,
    "n_frames": 282,
    "conv_channels": [
      16,
      32,
      64
    ],
    "conv_pools": [
      2,
      4,
      4
    ],
    "conv_dropout": 0.3,
    "transformer_pool": 4,
    "n_heads": 4,
    "d_ff": 512,
    "n_layers": 4,
    "transformer_dropout": 0.4
  },
  "host_dropout": true
}"#;

    /// config.json of a run with every option since (`--protocol actor --test-actors 1
    /// --fresh 1 --align speech --cmvn --lr-schedule cosine --label-smoothing 0.1`), as written
    /// before the optimiser's fields moved into [`OptimizerConfig`] (commit ecc907c).
    const ROBUST: &str = r#"{
  "protocol": {
    "name": "actor",
    "folds": 6,
    "fold": 0,
    "test_actors": [
      1
    ]
  },
  "seed": 7,
  "epochs": 1,
  "batch_size": 16,
  "lr": 0.01,
  "momentum": 0.9,
  "dampening": 0.0,
  "weight_decay": 0.0001,
  "augment": {
    "copies": 1,
    "snr_low": 15,
    "snr_high": 30
  },
  "features": {
    "sample_rate": 48000,
    "offset_s": 0.5,
    "duration_s": 3.0,
    "window": true,
    "n_mfcc": 40,
    "n_fft": 1024,
    "win_length": 512,
    "hop_length": 512,
    "n_mels": 128,
    "fmin": 0.0,
    "fmax": null,
    "pad_mode": "reflect",
    "top_db": 80.0,
    "amin": 1e-10,
    "ref_power": 1.0,
    "align": "speech",
    "cmvn": true
  },
  "model": {
    "num_classes": 8,
    "n_mfcc": 40,
    "n_frames": 282,
    "conv_channels": [
      16,
      32,
      64
    ],
    "conv_pools": [
      2,
      4,
      4
    ],
    "conv_dropout": 0.3,
    "transformer_pool": 4,
    "n_heads": 4,
    "d_ff": 512,
    "n_layers": 4,
    "transformer_dropout": 0.4
  },
  "host_dropout": true,
  "fresh": {
    "copies": 1,
    "policy": {
      "speed": [
        0.3,
        [
          0.9,
          1.1
        ]
      ],
      "reverb": [
        0.3,
        [
          0.1,
          0.9
        ]
      ],
      "noise": [
        0.7,
        [
          3.0,
          30.0
        ]
      ],
      "band_limit": 0.2,
      "gain": [
        0.5,
        [
          -20.0,
          10.0
        ]
      ],
      "onset": [
        0.3,
        [
          -0.5,
          1.0
        ]
      ],
      "truncate": [
        0.15,
        [
          1.2,
          3.0
        ]
      ],
      "time_masks": [
        2,
        20
      ],
      "coeff_masks": [
        1,
        4
      ]
    }
  },
  "lr_schedule": "cosine",
  "label_smoothing": 0.1
}"#;

    /// config.json as `sermo train` wrote it before host dropout, fresh augmentation, schedules
    /// and label smoothing existed (up to commit 5e9fa83): [`PAPER`] without `host_dropout`.
    fn before_host_dropout() -> String {
        let old = PAPER.replace(",\n  \"host_dropout\": true", "");
        assert_ne!(old, PAPER);
        old
    }

    #[test]
    fn reads_a_config_written_before_the_optional_fields() {
        let config: TrainConfig = serde_json::from_str(&before_host_dropout()).unwrap();
        assert_eq!(config.protocol, Protocol::Paper);
        assert_eq!((config.seed, config.epochs, config.batch_size), (7, 3, 16));
        assert_eq!(config.optimizer, OptimizerConfig::new());
        assert_eq!(config.augment.copies, 1);
        assert_eq!(config.features, FeatureConfig::default());
        assert_eq!(config.model, SermoNetConfig::paper());
        assert!(
            !config.host_dropout,
            "runs begun without host dropout resume without it"
        );
        assert_eq!(config.fresh, None);
        assert_eq!(config.lr_schedule, LrSchedule::Constant);
        assert_eq!(config.label_smoothing, 0.0);
        assert_eq!(config.labels, LabelSet::Eight);
    }

    /// A run with 7 labels records them, and its network has 7 classes.
    #[test]
    fn records_the_label_set() {
        let mut config: TrainConfig = serde_json::from_str(PAPER).unwrap();
        config.labels = LabelSet::Seven;
        config.model = config.model.clone().with_num_classes(7);
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["labels"], 7);
        assert_eq!(json["model"]["num_classes"], 7);
        let back: TrainConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn reads_every_option() {
        let config: TrainConfig = serde_json::from_str(ROBUST).unwrap();
        assert_eq!(
            config.protocol,
            Protocol::Actor {
                folds: 6,
                fold: 0,
                test_actors: Some(vec![1]),
            }
        );
        assert!(config.host_dropout);
        assert_eq!(config.fresh.map(|f| f.copies), Some(1));
        assert_eq!(config.lr_schedule, LrSchedule::Cosine);
        assert_eq!(config.label_smoothing, 0.1);
        assert!(config.features.cmvn);
    }

    /// The JSON written is, key for key and in order, what was written before: the optimiser's
    /// fields stay at the top level, the paper's recipe leaves the optional fields out.
    #[test]
    fn writes_the_json_it_always_wrote() {
        for text in [PAPER, ROBUST] {
            let config: TrainConfig = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string_pretty(&config).unwrap(), text);
            assert_eq!(TrainConfig::load_binary(text.as_bytes()).unwrap(), config);
        }
        let old: TrainConfig = serde_json::from_str(&before_host_dropout()).unwrap();
        assert_eq!(
            serde_json::to_string_pretty(&old).unwrap(),
            PAPER.replace("\"host_dropout\": true", "\"host_dropout\": false")
        );
    }
}
