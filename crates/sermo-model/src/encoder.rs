//! The Transformer encoder of the paper's time branch, laid out as PyTorch's
//! `nn.TransformerEncoder` so that a reference `state_dict` maps onto it name for name.
//!
//! burn has its own `TransformerEncoder`, but it keeps separate query/key/value projections and
//! other names; this one keeps PyTorch's packed `in_proj` (one `[40, 120]` matmul instead of
//! three), its post-norm order and ReLU, which is what the paper's code ran.

use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig, Relu};
use burn::tensor::Device;
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;

use crate::dropout::Dropout;

/// Multi-head self-attention with a packed input projection (PyTorch's `MultiheadAttention`).
#[derive(Module, Debug)]
pub struct SelfAttention {
    /// Query, key and value projections packed in one layer: `[d_model, 3·d_model]`.
    pub in_proj: Linear,
    /// Output projection: `[d_model, d_model]`.
    pub out_proj: Linear,
    /// Dropout on the attention weights.
    pub dropout: Dropout,
    /// Number of heads.
    pub n_heads: usize,
}

impl SelfAttention {
    /// Initialised as PyTorch's `MultiheadAttention`: Xavier-uniform packed input projection,
    /// default (Kaiming-uniform) output projection, both biases zero.
    fn new(d_model: usize, n_heads: usize, dropout: f64, device: &Device) -> Self {
        let zero_bias = |mut linear: Linear, d: usize| {
            linear.bias = Some(Param::from_tensor(Tensor::zeros([d], device)));
            linear
        };
        let in_proj = LinearConfig::new(d_model, 3 * d_model)
            .with_initializer(Initializer::XavierUniform { gain: 1.0 })
            .init(device);
        Self {
            in_proj: zero_bias(in_proj, 3 * d_model),
            out_proj: zero_bias(LinearConfig::new(d_model, d_model).init(device), d_model),
            dropout: Dropout::new(dropout),
            n_heads,
        }
    }

    /// # Shapes
    /// - input: `[batch, steps, d_model]`
    /// - output: `[batch, steps, d_model]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, steps, d_model] = x.dims();
        let head = d_model / self.n_heads;
        let qkv = self.in_proj.forward(x); // [B, T, 3·D]
        let split = |i: usize| {
            qkv.clone()
                .narrow(2, i * d_model, d_model) // [B, T, D]
                .reshape([batch, steps, self.n_heads, head])
                .swap_dims(1, 2) // [B, H, T, D/H]
        };
        let (q, k, v) = (split(0), split(1), split(2));
        let scores = q.matmul(k.swap_dims(2, 3)) / (head as f64).sqrt(); // [B, H, T, T]
        let weights = self.dropout.forward(softmax(scores, 3));
        let context = weights
            .matmul(v) // [B, H, T, D/H]
            .swap_dims(1, 2)
            .reshape([batch, steps, d_model]); // [B, T, D]
        self.out_proj.forward(context)
    }
}

/// One post-norm encoder layer (PyTorch's `TransformerEncoderLayer`, `norm_first=False`,
/// `activation=relu`).
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// Self-attention sub-layer.
    pub self_attn: SelfAttention,
    /// Feed-forward expansion: `[d_model, d_ff]`.
    pub linear1: Linear,
    /// Feed-forward projection back: `[d_ff, d_model]`.
    pub linear2: Linear,
    /// Layer norm after the attention residual.
    pub norm1: LayerNorm,
    /// Layer norm after the feed-forward residual.
    pub norm2: LayerNorm,
    /// Dropout of the residual branches and inside the feed-forward (PyTorch's `dropout`,
    /// `dropout1`, `dropout2`, which share one probability).
    pub dropout: Dropout,
    /// ReLU between the feed-forward layers.
    pub activation: Relu,
}

impl EncoderLayer {
    fn new(d_model: usize, n_heads: usize, d_ff: usize, dropout: f64, device: &Device) -> Self {
        Self {
            self_attn: SelfAttention::new(d_model, n_heads, dropout, device),
            linear1: LinearConfig::new(d_model, d_ff).init(device),
            linear2: LinearConfig::new(d_ff, d_model).init(device),
            norm1: LayerNormConfig::new(d_model).init(device),
            norm2: LayerNormConfig::new(d_model).init(device),
            dropout: Dropout::new(dropout),
            activation: Relu::new(),
        }
    }

    /// # Shapes
    /// - input: `[batch, steps, d_model]`
    /// - output: `[batch, steps, d_model]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let attended = self.dropout.forward(self.self_attn.forward(x.clone()));
        let x = self.norm1.forward(x + attended);
        let hidden = self.activation.forward(self.linear1.forward(x.clone())); // [B, T, d_ff]
        let fed = self.linear2.forward(self.dropout.forward(hidden));
        self.norm2.forward(x + self.dropout.forward(fed))
    }
}

/// A stack of [`EncoderLayer`]s (PyTorch's `TransformerEncoder`, no final norm).
#[derive(Module, Debug)]
pub struct TransformerEncoder {
    /// The layers, applied in order.
    pub layers: Vec<EncoderLayer>,
}

impl TransformerEncoder {
    /// A stack of `n_layers` fresh layers.
    pub fn new(
        d_model: usize,
        n_heads: usize,
        d_ff: usize,
        n_layers: usize,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let layers = (0..n_layers)
            .map(|_| EncoderLayer::new(d_model, n_heads, d_ff, dropout, device))
            .collect();
        Self { layers }
    }

    /// # Shapes
    /// - input: `[batch, steps, d_model]`
    /// - output: `[batch, steps, d_model]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.layers.iter().fold(x, |x, layer| layer.forward(x))
    }
}
