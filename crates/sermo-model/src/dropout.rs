//! Dropout whose masks can be drawn on the host, for fast CPU training.
//!
//! burn's `Dropout` draws its Bernoulli mask element by element through burn's generic sampler
//! and a ChaCha generator on one thread; training this model on the CPU spends about a fifth of
//! every step there (perf, docs/benchmarks.md). [`Dropout`] wraps burn's module and behaves
//! exactly like it — only while training on an autodiff device, keep each element with
//! probability 1 − p and scale the kept ones by 1 / (1 − p) — but when it holds a
//! [`HostMasks`] stream, the scaled mask is made on the host from a xoshiro256++ stream (about
//! 1 ns per element) and multiplied in once.
//!
//! The host source suits the CPU backend, where the "upload" is a copy; GPU backends keep
//! drawing on the device, the default. The stream is explicit: the trainer creates one
//! [`HostMasks`], hands it to the network ([`crate::SermoNet::with_host_masks`]) and reseeds it
//! every epoch, so masks are reproducible run to run as long as the forward passes happen in
//! the same order. Every dropout of one network shares the stream (its clones too, such as the
//! copies on other devices in data-parallel training).

use std::sync::{Arc, Mutex};

use burn::module::Module;
use burn::nn::DropoutConfig;
use burn::tensor::{Tensor, TensorData};

/// A seeded stream of host-drawn dropout masks, shared by the dropouts it is given to.
#[derive(Debug, Clone)]
pub struct HostMasks(Arc<Mutex<Xoshiro256pp>>);

impl HostMasks {
    /// A stream seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(Arc::new(Mutex::new(Xoshiro256pp::new(seed))))
    }

    /// Restarts the stream from `seed` (the trainer does this at every epoch, so a resumed run
    /// draws what an uninterrupted one would).
    pub fn reseed(&self, seed: u64) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Xoshiro256pp::new(seed);
    }

    fn scaled_mask(&self, n: usize, keep: f64) -> Vec<f32> {
        let mut rng = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        rng.scaled_mask(n, keep)
    }
}

/// Dropout with an optional host-side mask source; see the module documentation.
#[derive(Module, Debug)]
pub struct Dropout {
    /// burn's dropout: its probability, its training flag and the device-side path.
    pub inner: burn::nn::Dropout,
    /// Where masks come from while training: `None` draws them on the device (burn's way).
    #[module(skip)]
    pub host: Option<HostMasks>,
}

impl Dropout {
    /// Dropout with probability `prob` (must be in `[0, 1)`, checked by the model config),
    /// drawing its masks on the device.
    pub fn new(prob: f64) -> Self {
        Self {
            inner: DropoutConfig::new(prob).init(),
            host: None,
        }
    }

    /// # Shapes
    /// - input: any
    /// - output: the same
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let prob = self.inner.prob;
        let active = self.inner.training.is_enabled() && input.device().is_autodiff() && prob > 0.0;
        if !active {
            return input;
        }
        let Some(host) = &self.host else {
            return self.inner.forward(input);
        };
        let shape = input.shape();
        let mask = host.scaled_mask(shape.num_elements(), 1.0 - prob);
        let mask = Tensor::<D>::from_data(TensorData::new(mask, shape), &input.device());
        input * mask
    }
}

/// xoshiro256++ (Blackman & Vigna), seeded through splitmix64: small, fast and fully specified,
/// so the masks do not depend on any crate's choice of generator.
#[derive(Debug, Clone)]
struct Xoshiro256pp([u64; 4]);

impl Xoshiro256pp {
    fn new(seed: u64) -> Self {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Self([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// `n` values, each `1 / keep` with probability `keep` and 0 otherwise (one 32-bit draw per
    /// value, two per generator step: low half first).
    fn scaled_mask(&mut self, n: usize, keep: f64) -> Vec<f32> {
        // keep < 1, so the threshold fits in 32 bits; P(draw < threshold) = keep to 2^-32.
        let threshold = (keep * 4_294_967_296.0) as u64;
        let scale = (1.0 / keep) as f32;
        let pick = |draw: u64| if draw < threshold { scale } else { 0.0 };
        // Filled in place, pair by pair, with no length check per value: 4.3 ns per value where
        // pushing one at a time took 6.8 ns (5 % of a training step, perf), same values.
        let mut mask = vec![0.0f32; n];
        let mut pairs = mask.chunks_exact_mut(2);
        for pair in &mut pairs {
            let bits = self.next_u64();
            pair[0] = pick(bits & 0xFFFF_FFFF);
            pair[1] = pick(bits >> 32);
        }
        if let [last] = pairs.into_remainder() {
            *last = pick(self.next_u64() & 0xFFFF_FFFF);
        }
        mask
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_matches_the_reference_stream() {
        // First outputs of xoshiro256++ from the state {1, 2, 3, 4} (reference C code).
        let mut rng = Xoshiro256pp([1, 2, 3, 4]);
        assert_eq!(rng.next_u64(), 41_943_041);
        assert_eq!(rng.next_u64(), 58_720_359);
        assert_eq!(rng.next_u64(), 3_588_806_011_781_223);
    }

    #[test]
    fn masks_keep_the_right_share_scaled() {
        let mut rng = Xoshiro256pp::new(7);
        let mask = rng.scaled_mask(100_001, 0.9);
        assert_eq!(mask.len(), 100_001);
        let kept = mask.iter().filter(|&&v| v != 0.0).count() as f64 / mask.len() as f64;
        assert!((kept - 0.9).abs() < 0.005, "kept {kept}");
        assert!(
            mask.iter()
                .all(|&v| v == 0.0 || (v - 1.0 / 0.9).abs() < 1e-6)
        );
        let again = Xoshiro256pp::new(7).scaled_mask(100_001, 0.9);
        assert_eq!(mask, again);
        // The stream as the first implementation drew it (trained models' masks): its first
        // dropped positions and how many it keeps.
        let dropped: Vec<usize> = (0..mask.len())
            .filter(|&i| mask[i] == 0.0)
            .take(8)
            .collect();
        assert_eq!(dropped, [2, 8, 9, 17, 46, 81, 94, 96]);
        assert_eq!(
            mask.len() - mask.iter().filter(|&&v| v == 0.0).count(),
            89_945
        );
    }
}
