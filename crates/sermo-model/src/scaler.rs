//! Per-position feature standardisation, fitted on the training split only.

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Standardises each position of the flattened `[n_mfcc, n_frames]` map: `(x − mean) / std`,
/// as scikit-learn's `StandardScaler` does in the paper's code. Positions with zero spread get
/// a std of 1 (scikit-learn does the same), so constant inputs never divide by zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Mean per position.
    pub mean: Vec<f32>,
    /// Standard deviation per position (population, ddof 0).
    pub std: Vec<f32>,
}

impl Scaler {
    /// The identity: mean 0, std 1 (what an import without a fitted scaler gets).
    pub fn identity(len: usize) -> Self {
        Self {
            mean: vec![0.0; len],
            std: vec![1.0; len],
        }
    }

    /// Fits mean and population std over `rows`, each a flattened feature map of equal length.
    /// Accumulates in f64 so thousands of rows lose no precision.
    pub fn fit<'a>(
        rows: impl IntoIterator<Item = &'a [f32]>,
        len: usize,
    ) -> Result<Self, ModelError> {
        let mut sum = vec![0f64; len];
        let mut sq = vec![0f64; len];
        let mut n = 0usize;
        for row in rows {
            if row.len() != len {
                return Err(ModelError::Shape(format!(
                    "scaler rows must have {len} values, one has {}",
                    row.len()
                )));
            }
            for ((s, q), &x) in sum.iter_mut().zip(sq.iter_mut()).zip(row) {
                let x = f64::from(x);
                *s += x;
                *q += x * x;
            }
            n += 1;
        }
        if n == 0 {
            return Err(ModelError::Shape("cannot fit a scaler on no rows".into()));
        }
        let n = n as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let std = sum
            .iter()
            .zip(&sq)
            .map(|(s, q)| {
                let m = s / n;
                let var = (q / n - m * m).max(0.0);
                let sd = var.sqrt();
                if sd < 1e-12 { 1.0 } else { sd as f32 }
            })
            .collect();
        Ok(Self { mean, std })
    }

    /// Standardises one flattened map in place.
    pub fn apply(&self, x: &mut [f32]) -> Result<(), ModelError> {
        self.check(x.len())?;
        for ((v, m), s) in x.iter_mut().zip(&self.mean).zip(&self.std) {
            *v = (*v - m) / s;
        }
        Ok(())
    }

    /// Checks the scaler fits maps of `len` values and holds usable numbers.
    pub fn check(&self, len: usize) -> Result<(), ModelError> {
        if self.mean.len() != len || self.std.len() != len {
            return Err(ModelError::Artifact(format!(
                "scaler has {}/{} values, features have {len}",
                self.mean.len(),
                self.std.len()
            )));
        }
        if self.mean.iter().any(|m| !m.is_finite())
            || self.std.iter().any(|s| !s.is_finite() || *s <= 0.0)
        {
            return Err(ModelError::Artifact(
                "scaler holds non-finite or non-positive values".into(),
            ));
        }
        Ok(())
    }
}
