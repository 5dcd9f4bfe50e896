//! burn's training traits for [`SermoNet`] (they must live in the crate that owns the model).

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Int, Tensor};
pub use burn_train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};

use crate::SermoNet;

/// A batch of standardised MFCC maps and their class indices.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[batch, 1, n_mfcc, n_frames]`
    pub inputs: Tensor<4>,
    /// `[batch]` class indices.
    pub targets: Tensor<1, Int>,
}

impl SermoNet {
    /// Logits and the mean cross-entropy loss of a batch.
    pub fn forward_classification(&self, batch: Batch) -> ClassificationOutput {
        let logits = self.forward(batch.inputs); // [B, classes]
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput {
            loss,
            output: logits,
            targets: batch.targets,
        }
    }
}

impl TrainStep for SermoNet {
    type Input = Batch;
    type Output = ClassificationOutput;

    fn step(&self, batch: Batch) -> TrainOutput<ClassificationOutput> {
        let item = self.forward_classification(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl InferenceStep for SermoNet {
    type Input = Batch;
    type Output = ClassificationOutput;

    fn step(&self, batch: Batch) -> ClassificationOutput {
        self.forward_classification(batch)
    }
}
