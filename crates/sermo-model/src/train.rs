//! The loss of a batch, for the trainer's own loop (trainer/src/step.rs), its benchmark and the
//! GPU parity test. sermo does not use burn-train's learner, so it does not depend on burn-train.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Int, Tensor};

use crate::SermoNet;

/// A batch of standardised MFCC maps and their class indices.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[batch, 1, n_mfcc, n_frames]`
    pub inputs: Tensor<4>,
    /// `[batch]` class indices.
    pub targets: Tensor<1, Int>,
}

/// What the network made of a batch.
#[derive(Debug, Clone)]
pub struct BatchOutput {
    /// Mean cross-entropy over the batch, `[1]` (on an autodiff device, `backward()` of it gives
    /// the gradients).
    pub loss: Tensor<1>,
    /// `[batch, classes]`
    pub logits: Tensor<2>,
}

impl SermoNet {
    /// Logits and the mean cross-entropy loss of a batch.
    pub fn forward_classification(&self, batch: Batch) -> BatchOutput {
        self.forward_smoothed(batch, None)
    }

    /// Logits and the mean cross-entropy loss of a batch against targets smoothed by `alpha`
    /// (`(1 − alpha)` on the true class, `alpha / classes` spread over all; `None`: one-hot).
    /// `alpha` must lie in [0, 1].
    pub fn forward_smoothed(&self, batch: Batch, alpha: Option<f32>) -> BatchOutput {
        let logits = self.forward(batch.inputs); // [B, classes]
        let loss = CrossEntropyLossConfig::new()
            .with_smoothing(alpha)
            .init(&logits.device())
            .forward(logits.clone(), batch.targets);
        BatchOutput { loss, logits }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

    use super::Batch;
    use crate::SermoNetConfig;

    /// Smoothed cross-entropy is `(1 − α)·CE + α·mean over classes of −log p`, from the same
    /// logits; α = 0 is plain cross-entropy.
    #[test]
    fn label_smoothing_mixes_the_uniform_target_in() {
        let device = Device::flex();
        let model = SermoNetConfig::paper().init(&device);
        let inputs = Tensor::<4>::random([3, 1, 40, 282], Distribution::Normal(0.0, 1.0), &device);
        let targets = Tensor::<1, Int>::from_data(TensorData::from([2i64, 5, 0]), &device);
        let batch = || Batch {
            inputs: inputs.clone(),
            targets: targets.clone(),
        };
        let scalar = |t: Tensor<1>| f64::from(t.try_into_scalar::<f32>().unwrap());
        let plain = model.forward_classification(batch());
        let logits: Vec<f32> = plain.logits.clone().into_data().try_to_vec().unwrap();
        let (mut ce, mut uniform) = (0f64, 0f64);
        for (row, &target) in logits.chunks(8).zip(&[2usize, 5, 0]) {
            let max = row.iter().copied().fold(f32::MIN, f32::max);
            let log_sum = row
                .iter()
                .map(|&v| f64::from(v - max).exp())
                .sum::<f64>()
                .ln();
            let log_p = |k: usize| f64::from(row[k] - max) - log_sum;
            ce -= log_p(target) / 3.0;
            uniform -= (0..8).map(log_p).sum::<f64>() / 8.0 / 3.0;
        }
        assert!((scalar(plain.loss) - ce).abs() < 1e-4);
        let alpha = 0.1;
        let smoothed = scalar(model.forward_smoothed(batch(), Some(alpha)).loss);
        let expected = (1.0 - f64::from(alpha)) * ce + f64::from(alpha) * uniform;
        assert!(
            (smoothed - expected).abs() < 1e-4,
            "{smoothed} vs {expected}"
        );
        assert!((scalar(model.forward_smoothed(batch(), Some(0.0)).loss) - ce).abs() < 1e-4);
    }
}
