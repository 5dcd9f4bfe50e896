//! The network's hyper-parameters. Every default is the paper's value.

use burn::config::Config;

/// Hyper-parameters of [`SermoNet`](crate::SermoNet). The defaults are the paper's network
/// (An & Ruan 2021, after Zenkov's "Parallel is All You Want"): about 248 k parameters.
#[derive(Config, Debug, PartialEq)]
pub struct SermoNetConfig {
    /// Number of output classes. Default: 8 (the RAVDESS emotions).
    #[config(default = 8)]
    pub num_classes: usize,
    /// MFCC coefficients per frame: the input's height and the Transformer's `d_model`.
    /// Default: 40.
    #[config(default = 40)]
    pub n_mfcc: usize,
    /// Frames per input: the input's width. Default: 282 (3 s at 48 kHz, hop 512, centred).
    #[config(default = 282)]
    pub n_frames: usize,
    /// Output channels of the three convolutions of each CNN block. Default: [16, 32, 64].
    #[config(default = "[16, 32, 64]")]
    pub conv_channels: [usize; 3],
    /// Square max-pool size (and stride) after each convolution. Default: [2, 4, 4].
    #[config(default = "[2, 4, 4]")]
    pub conv_pools: [usize; 3],
    /// Dropout after each pooling of the CNN blocks. Default: 0.3.
    #[config(default = 0.3)]
    pub conv_dropout: f64,
    /// Max-pool width along time before the Transformer branch. Default: 4 (282 → 70 steps).
    #[config(default = 4)]
    pub transformer_pool: usize,
    /// Attention heads. Default: 4 (`d_model` 40 / 4 = 10 per head).
    #[config(default = 4)]
    pub n_heads: usize,
    /// Hidden size of the feed-forward sub-layer. Default: 512.
    #[config(default = 512)]
    pub d_ff: usize,
    /// Encoder layers. Default: 4.
    #[config(default = 4)]
    pub n_layers: usize,
    /// Dropout inside the Transformer encoder (attention weights, residuals, feed-forward).
    /// Default: 0.4.
    #[config(default = 0.4)]
    pub transformer_dropout: f64,
}

impl SermoNetConfig {
    /// The paper's network.
    pub fn paper() -> Self {
        Self::new()
    }

    /// Height and width of a CNN block's output map: each pool floors, as PyTorch's does.
    pub fn conv_output_hw(&self) -> [usize; 2] {
        let mut hw = [self.n_mfcc, self.n_frames];
        for pool in self.conv_pools {
            hw = [hw[0] / pool.max(1), hw[1] / pool.max(1)];
        }
        hw
    }

    /// Length of one flattened CNN embedding: 64 × 1 × 8 = 512 for the paper.
    pub fn conv_embedding(&self) -> usize {
        let [h, w] = self.conv_output_hw();
        self.conv_channels[2] * h * w
    }

    /// Sequence length the Transformer sees: 282 / 4 = 70 for the paper.
    pub fn transformer_steps(&self) -> usize {
        self.n_frames / self.transformer_pool.max(1)
    }

    /// Input size of the classifier head: 512 + 512 + 40 = 1064 for the paper.
    pub fn embedding(&self) -> usize {
        2 * self.conv_embedding() + self.n_mfcc
    }

    /// Checks that the numbers describe a network that can be built; the message says which
    /// number is wrong.
    pub fn check(&self) -> Result<(), String> {
        let [h, w] = self.conv_output_hw();
        if self.num_classes == 0 {
            return Err("num_classes must be at least 1".into());
        }
        if self.conv_channels.contains(&0) || self.conv_pools.contains(&0) {
            return Err("conv_channels and conv_pools must be positive".into());
        }
        if h == 0 || w == 0 {
            return Err(format!(
                "an input of {}×{} is too small for pools {:?}",
                self.n_mfcc, self.n_frames, self.conv_pools
            ));
        }
        if self.n_heads == 0 || !self.n_mfcc.is_multiple_of(self.n_heads) {
            return Err(format!(
                "n_mfcc ({}) must be a multiple of n_heads ({})",
                self.n_mfcc, self.n_heads
            ));
        }
        if self.transformer_pool == 0 || self.transformer_steps() == 0 {
            return Err("transformer_pool must be between 1 and n_frames".into());
        }
        for p in [self.conv_dropout, self.transformer_dropout] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("dropout {p} is outside [0, 1)"));
            }
        }
        Ok(())
    }
}
