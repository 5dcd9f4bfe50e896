//! Real FFTs in f64 for the augmentations that filter (speech-shaped noise) or convolve (rooms),
//! planned once per size and thread.
//!
//! Planning a transform computes its twiddle factors, which costs about as much as running it;
//! training applies a room or a noise to copies of every clip, every epoch, on every rayon
//! thread. So each thread keeps its planner (which caches a plan per size: a handful of powers of
//! two) and one scratch buffer, and reuses them. A plan gives the same result however often it
//! is reused, so the cache changes no sample.

use std::cell::Cell;

use sermo_fft::{Complex, PlannerF64};

/// The plans made so far and a scratch buffer shared by all of them.
pub(super) struct Plans {
    planner: PlannerF64,
    scratch: Vec<Complex<f64>>,
}

thread_local! {
    static PLANS: Cell<Option<Plans>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's plans, made on first use. A nested call (none exists today)
/// would get fresh plans rather than fail.
pub(super) fn with_plans<R>(f: impl FnOnce(&mut Plans) -> R) -> R {
    let mut plans = PLANS
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_else(Plans::new);
    let out = f(&mut plans);
    // Fails only while the thread is being torn down; the plans are then dropped.
    let _ = PLANS.try_with(|cell| cell.set(Some(plans)));
    out
}

impl Plans {
    fn new() -> Self {
        Self {
            planner: PlannerF64::new(),
            scratch: Vec::new(),
        }
    }

    fn grow_scratch(&mut self, len: usize) {
        if self.scratch.len() < len {
            self.scratch.resize(len, Complex::default());
        }
    }

    /// Spectrum of `input` (`input.len() / 2 + 1` bins, unnormalised); `input` is used as
    /// scratch and left undefined.
    pub(super) fn forward(&mut self, input: &mut [f64]) -> Vec<Complex<f64>> {
        let plan = self.planner.forward(input.len());
        let mut spectrum = plan.make_output_vec();
        self.grow_scratch(plan.get_scratch_len());
        // Lengths come from the plan itself, so the transform cannot fail.
        let _ = plan.process_with_scratch(input, &mut spectrum, &mut self.scratch);
        spectrum
    }

    /// Inverse of [`Plans::forward`] into `output` (unnormalised: `output.len()` times the
    /// signal). `spectrum` must hold `output.len() / 2 + 1` bins; the imaginary parts of its DC
    /// and Nyquist bins are set to 0 first (a real signal's are 0; a product of spectra's only
    /// up to rounding), and it is left undefined.
    pub(super) fn inverse(&mut self, spectrum: &mut [Complex<f64>], output: &mut [f64]) {
        let plan = self.planner.inverse(output.len());
        if let Some(first) = spectrum.first_mut() {
            first.im = 0.0;
        }
        if let Some(last) = spectrum.last_mut() {
            last.im = 0.0;
        }
        self.grow_scratch(plan.get_scratch_len());
        // Every caller's spectrum comes from `forward` of the same size, so lengths match.
        let _ = plan.process_with_scratch(spectrum, output, &mut self.scratch);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn plans_are_made_once_per_size_and_thread() {
        let first = with_plans(|p| p.planner.forward(1024));
        let again = with_plans(|p| p.planner.forward(1024));
        assert!(Arc::ptr_eq(&first, &again));
        let elsewhere = std::thread::spawn(|| with_plans(|p| p.planner.forward(1024)));
        let elsewhere = elsewhere.join().unwrap();
        assert!(!Arc::ptr_eq(&first, &elsewhere));
    }

    #[test]
    fn inverse_undoes_forward() {
        let x: Vec<f64> = (0..64).map(|i| f64::from(i % 5) - 2.0).collect();
        let mut y = vec![0.0; 64];
        with_plans(|p| {
            let mut spectrum = p.forward(&mut x.clone());
            p.inverse(&mut spectrum, &mut y);
        });
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b / 64.0).abs() < 1e-12);
        }
    }
}
