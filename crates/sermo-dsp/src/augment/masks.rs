//! SpecAugment-style masks on a feature map: bands of frames or of coefficients hidden.

use rand::{Rng, RngExt};

/// Masks a row-major `[n_rows, n_frames]` feature map: `time.0` bands of up to `time.1` frames
/// and `rows.0` bands of up to `rows.1` rows, each set to its row's mean (so a masked band
/// carries no information and no level change; 0 after the model's scaling only approximately,
/// which is the point: it must not be a value the model can key on).
///
/// Draws a width then a start per band, time bands first. A map with fewer values than rows
/// (or no rows) is left alone.
pub fn mask_map(
    map: &mut [f32],
    n_rows: usize,
    time: (usize, usize),
    rows: (usize, usize),
    rng: &mut impl Rng,
) {
    let n_frames = map.len().checked_div(n_rows).unwrap_or(0);
    if n_frames == 0 {
        return;
    }
    let means: Vec<f32> = map
        .chunks(n_frames)
        .map(|r| r.iter().sum::<f32>() / n_frames as f32)
        .collect();
    for _ in 0..time.0 {
        let width = rng.random_range(0..=time.1.min(n_frames));
        let start = rng.random_range(0..=n_frames - width);
        for (row, &m) in map.chunks_mut(n_frames).zip(&means) {
            row[start..start + width].fill(m);
        }
    }
    for _ in 0..rows.0 {
        let height = rng.random_range(0..=rows.1.min(n_rows));
        let start = rng.random_range(0..=n_rows - height);
        for r in start..start + height {
            map[r * n_frames..(r + 1) * n_frames].fill(means[r]);
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn masks_fill_bands_with_row_means() {
        let (rows, frames) = (8usize, 50usize);
        let map: Vec<f32> = (0..rows * frames)
            .map(|i| (i % 7) as f32 + (i / frames) as f32)
            .collect();
        let mut masked = map.clone();
        mask_map(
            &mut masked,
            rows,
            (2, 10),
            (1, 3),
            &mut ChaCha8Rng::seed_from_u64(11),
        );
        let changed = masked.iter().zip(&map).filter(|(a, b)| a != b).count();
        assert!(changed > 0 && changed < map.len() / 2, "{changed}");
        for (r, (row, orig)) in masked.chunks(frames).zip(map.chunks(frames)).enumerate() {
            let mean = orig.iter().sum::<f32>() / frames as f32;
            for (a, b) in row.iter().zip(orig) {
                assert!(a == b || (a - mean).abs() < 1e-5, "row {r}");
            }
        }
        let mut tiny = vec![1.0f32];
        mask_map(
            &mut tiny,
            2,
            (2, 10),
            (1, 3),
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        mask_map(
            &mut tiny,
            0,
            (2, 10),
            (1, 3),
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        assert_eq!(tiny, [1.0]);
    }
}
