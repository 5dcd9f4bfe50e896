//! Raw MFCC maps → the network's input, and logits → the predicted class: the two conversions
//! every path through the network shares (classification, evaluation, training batches).

use burn::tensor::{Device, Tensor, TensorData};

use crate::{ModelError, Scaler};

/// Standardises raw maps with `scaler` and stacks them into the network's input
/// `[batch, 1, n_mfcc, n_frames]` on `device`.
///
/// # Errors
/// [`ModelError::Shape`] when a map does not hold `n_mfcc × n_frames` values (or the scaler
/// does not fit them).
pub fn model_input<'a>(
    maps: impl ExactSizeIterator<Item = &'a [f32]>,
    scaler: &Scaler,
    [n_mfcc, n_frames]: [usize; 2],
    device: &Device,
) -> Result<Tensor<4>, ModelError> {
    let len = n_mfcc * n_frames;
    let batch = maps.len();
    let mut flat = Vec::with_capacity(batch * len);
    for map in maps {
        if map.len() != len {
            return Err(ModelError::Shape(format!(
                "a feature map has {} values, the network takes {n_mfcc}×{n_frames}",
                map.len()
            )));
        }
        let start = flat.len();
        flat.extend_from_slice(map);
        scaler.apply(&mut flat[start..])?;
    }
    let data = TensorData::new(flat, [batch, 1, n_mfcc, n_frames]);
    Ok(Tensor::from_data(data, device))
}

/// Index of the largest value (the first of equals; 0 for an empty slice).
pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(best, max), (i, &v)| {
            if v > max { (i, v) } else { (best, max) }
        })
        .0
}

/// Cross-entropy of one row of logits against class `target`: `logsumexp(logits) −
/// logits[target]`, in f64 so it is exact to the last digit that matters.
pub fn cross_entropy(logits: &[f32], target: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&v| f64::from(v - max).exp()).sum();
    let picked = logits.get(target).copied().unwrap_or(f32::NEG_INFINITY);
    f64::from(max) + sum.ln() - f64::from(picked)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_largest() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.2]), 1);
        assert_eq!(argmax(&[-3.0]), 0);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn cross_entropy_is_minus_log_softmax() {
        let logits = [1.0f32, 2.0, 0.5];
        let z: f64 = logits.iter().map(|&v| f64::from(v).exp()).sum();
        for t in 0..3 {
            let want = -(f64::from(logits[t]).exp() / z).ln();
            assert!((cross_entropy(&logits, t) - want).abs() < 1e-12);
        }
    }

    #[test]
    fn input_is_scaled_and_checked() {
        let device = Device::flex();
        let scaler = Scaler {
            mean: vec![1.0; 6],
            std: vec![2.0; 6],
        };
        let maps = [vec![3.0f32; 6], vec![1.0; 6]];
        let x = model_input(maps.iter().map(Vec::as_slice), &scaler, [2, 3], &device).unwrap();
        assert_eq!(x.dims(), [2, 1, 2, 3]);
        let v: Vec<f32> = x.into_data().try_to_vec().unwrap();
        assert_eq!(&v[..6], &[1.0; 6]);
        assert_eq!(&v[6..], &[0.0; 6]);
        let short = [vec![0.0f32; 5]];
        assert!(model_input(short.iter().map(Vec::as_slice), &scaler, [2, 3], &device).is_err());
    }
}
