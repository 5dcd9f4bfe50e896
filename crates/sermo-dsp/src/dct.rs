//! Step 6 of the MFCC chain ([`crate::mfcc`]): the orthonormal DCT-II over the mel axis, as a
//! matrix laid out in register tiles so that [`crate::Mfcc`] computes it `R` output rows ×
//! [`LANES`] frames at a time, each sum in the order of the plain loop (same bits).

use crate::mfcc::LANES;

/// Orthonormal DCT-II matrix `[n_out, n_in]`: row 0 scaled by `sqrt(1/N)`, others `sqrt(2/N)`.
pub(crate) fn dct_ortho_matrix(n_out: usize, n_in: usize) -> Vec<f64> {
    let n = n_in as f64;
    let mut m = Vec::with_capacity(n_out * n_in);
    for k in 0..n_out {
        let scale = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        for i in 0..n_in {
            let arg = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
            m.push(scale * arg.cos());
        }
    }
    m
}

/// One register tile of the DCT: `sums[r][lane] = Σ_m coef[m][r] · x[m][lane]`, `m` ascending,
/// each term a separate f64 multiply then add (no fused multiply-add: the bits of the plain
/// loop).
#[inline(always)]
pub(crate) fn dct_tile<const R: usize>(coef: &[[f64; R]], x: &[[f64; LANES]]) -> [[f64; LANES]; R] {
    let mut sums = [[0.0; LANES]; R];
    for (c, x) in coef.iter().zip(x) {
        for r in 0..R {
            for l in 0..LANES {
                sums[r][l] += c[r] * x[l];
            }
        }
    }
    sums
}

/// Rearranges a `[n_out, n_in]` DCT matrix into `Mfcc::dct`'s tiles of `rows` rows.
pub(crate) fn dct_tiles(matrix: &[f64], n_in: usize, rows: usize) -> Vec<f64> {
    let n_out = matrix.len() / n_in.max(1);
    let mut tiles = vec![0.0; n_out.div_ceil(rows) * n_in * rows];
    for (k, row) in matrix.chunks_exact(n_in).enumerate() {
        for (m, &c) in row.iter().enumerate() {
            tiles[((k / rows) * n_in + m) * rows + k % rows] = c;
        }
    }
    tiles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_matrix_is_orthonormal() {
        let n = 16;
        let d = dct_ortho_matrix(n, n);
        for a in 0..n {
            for b in 0..n {
                let dot: f64 = (0..n).map(|i| d[a * n + i] * d[b * n + i]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-12);
            }
        }
    }
}
