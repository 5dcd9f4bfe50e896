//! The paper's network: two parallel CNN blocks and a max-pooled Transformer encoder over the
//! same MFCC map, concatenated into one linear classifier.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

use crate::batch_norm::BatchNorm;
use crate::config::SermoNetConfig;
use crate::dropout::{Dropout, HostMasks};
use crate::encoder::TransformerEncoder;

/// One CNN block: `[Conv 3×3 pad 1 → BatchNorm → ReLU → MaxPool → Dropout] × 3`.
///
/// Field names follow the PyTorch reference's `nn.Sequential` (indices 0, 1, 5, 6, 10, 11 are
/// `conv1`, `bn1`, `conv2`, `bn2`, `conv3`, `bn3`).
#[derive(Module, Debug)]
pub struct ConvBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub pool1: MaxPool2d,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub pool2: MaxPool2d,
    pub conv3: Conv2d,
    pub bn3: BatchNorm,
    pub pool3: MaxPool2d,
    pub dropout: Dropout,
}

impl ConvBlock {
    fn new(config: &SermoNetConfig, device: &Device) -> Self {
        let [c1, c2, c3] = config.conv_channels;
        let [p1, p2, p3] = config.conv_pools;
        let conv = |i: usize, o: usize| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let pool = |p: usize| MaxPool2dConfig::new([p, p]).with_strides([p, p]).init();
        Self {
            conv1: conv(1, c1),
            bn1: BatchNorm::new(c1, device),
            pool1: pool(p1),
            conv2: conv(c1, c2),
            bn2: BatchNorm::new(c2, device),
            pool2: pool(p2),
            conv3: conv(c2, c3),
            bn3: BatchNorm::new(c3, device),
            pool3: pool(p3),
            dropout: Dropout::new(config.conv_dropout),
        }
    }

    /// # Shapes (paper defaults)
    /// - input: `[batch, 1, 40, 282]`
    /// - output: `[batch, 512]` (64 channels × 1 × 8, flattened channel-major as PyTorch does)
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let stage = |x, conv: &Conv2d, bn: &BatchNorm, pool: &MaxPool2d| {
            let x = bn.forward_relu_max_pool(convolve(conv, x), pool);
            self.dropout.forward(x)
        };
        let x = stage(x, &self.conv1, &self.bn1, &self.pool1); // [B, 16, 20, 141]
        let x = stage(x, &self.conv2, &self.bn2, &self.pool2); // [B, 32, 5, 35]
        let x = stage(x, &self.conv3, &self.bn3, &self.pool3); // [B, 64, 1, 8]
        x.flatten(1, 3) // [B, 512]
    }
}

/// `conv.forward(x)`; on flex (feature `cpu-kernels`) as im2col + a matrix product
/// (`flex::conv`).
pub fn convolve(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "cpu-kernels")]
    return crate::flex::conv::forward(conv, x);
    #[cfg(not(feature = "cpu-kernels"))]
    conv.forward(x)
}

/// The paper's network.
///
/// Field names are those of the PyTorch reference (`conv2Dblock1` → `conv2d_block1`, …,
/// `transformer_encoder.layers.N`, `fc1_linear`) so a reference `state_dict` imports with a
/// few key rewrites (see `import`).
///
/// # Shapes (paper defaults)
/// - input: standardised MFCC maps `[batch, 1, 40, 282]`
/// - output: logits `[batch, 8]`
#[derive(Module, Debug)]
pub struct SermoNet {
    pub conv2d_block1: ConvBlock,
    pub conv2d_block2: ConvBlock,
    pub transformer_maxpool: MaxPool2d,
    pub transformer_encoder: TransformerEncoder,
    pub fc1_linear: Linear,
}

impl SermoNetConfig {
    /// A freshly initialised network on `device`.
    pub fn init(&self, device: &Device) -> SermoNet {
        let pool = [1, self.transformer_pool];
        SermoNet {
            conv2d_block1: ConvBlock::new(self, device),
            conv2d_block2: ConvBlock::new(self, device),
            transformer_maxpool: MaxPool2dConfig::new(pool).with_strides(pool).init(),
            transformer_encoder: TransformerEncoder::new(
                self.n_mfcc,
                self.n_heads,
                self.d_ff,
                self.n_layers,
                self.transformer_dropout,
                device,
            ),
            fc1_linear: LinearConfig::new(self.embedding(), self.num_classes).init(device),
        }
    }
}

impl SermoNet {
    /// Logits for a batch of standardised MFCC maps.
    ///
    /// # Shapes (paper defaults)
    /// - input: `[batch, 1, 40, 282]`
    /// - output: `[batch, 8]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let spatial1 = self.conv2d_block1.forward(x.clone()); // [B, 512]
        let spatial2 = self.conv2d_block2.forward(x.clone()); // [B, 512]
        let pooled = self.transformer_maxpool.forward(x); // [B, 1, 40, 70]
        let sequence = pooled.squeeze_dim::<3>(1).swap_dims(1, 2); // [B, 70, 40]: steps of 40 MFCCs
        let temporal = self
            .transformer_encoder
            .forward(sequence) // [B, 70, 40]
            .mean_dim(1) // [B, 1, 40]
            .squeeze_dim::<2>(1); // [B, 40]
        let embedding = Tensor::cat(vec![spatial1, spatial2, temporal], 1); // [B, 1064]
        self.fc1_linear.forward(embedding) // [B, 8]
    }

    /// The same network with every dropout drawing its training masks from `masks` (host
    /// masks, for the CPU backend), or on the device with `None` (burn's way, the default).
    pub fn with_host_masks(mut self, masks: Option<HostMasks>) -> Self {
        for block in [&mut self.conv2d_block1, &mut self.conv2d_block2] {
            block.dropout.host = masks.clone();
        }
        for layer in &mut self.transformer_encoder.layers {
            layer.dropout.host = masks.clone();
            layer.self_attn.dropout.host = masks.clone();
        }
        self
    }

    /// Logits and class probabilities (softmax over the last axis).
    ///
    /// # Shapes
    /// - input: `[batch, 1, n_mfcc, n_frames]`
    /// - output: (`[batch, classes]`, `[batch, classes]`)
    pub fn infer(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let logits = self.forward(x);
        let probabilities = softmax(logits.clone(), 1);
        (logits, probabilities)
    }
}
