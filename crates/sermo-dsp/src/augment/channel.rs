//! The channel between the speaker and the file: level, and band-limiting by a narrower
//! channel (wide-band VoIP, the telephone band).
//!
//! A gain that drives samples past full scale clips them at ±1, as an ADC would.

use crate::error::DspError;
use crate::resample::resample;

/// [`crate::Shift::Gain`]: scales by `db` decibels, clipping at ±1.
pub(super) fn gain(samples: &[f32], db: f32) -> Result<Vec<f32>, DspError> {
    if !db.is_finite() {
        return Err(super::invalid("gain", format!("{db} dB is not finite")));
    }
    let k = 10f32.powf(db / 20.0);
    Ok(samples.iter().map(|&s| (s * k).clamp(-1.0, 1.0)).collect())
}

/// [`crate::Shift::BandLimit`]: down to `rate_hz` and back up to `sample_rate` with
/// [`resample`], keeping the clip's length.
pub(super) fn band_limit(
    samples: &[f32],
    sample_rate: u32,
    rate_hz: u32,
) -> Result<Vec<f32>, DspError> {
    if rate_hz == 0 {
        return Err(super::invalid(
            "band_limit",
            "the channel rate must be > 0".into(),
        ));
    }
    let narrow = resample(samples, sample_rate, rate_hz)?;
    let mut back = resample(&narrow, rate_hz, sample_rate)?;
    back.resize(samples.len(), 0.0);
    Ok(back)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::test_signals::{SR, band_power, speechy};

    #[test]
    fn gain_scales_and_clips() {
        let x = vec![0.05f32, -0.5, 0.2];
        let y = gain(&x, -20.0).unwrap();
        for (a, b) in x.iter().zip(&y) {
            assert!((a * 0.1 - b).abs() < 1e-7);
        }
        let y = gain(&x, 10.0).unwrap();
        assert!((y[0] - 0.05 * 10f32.sqrt()).abs() < 1e-6);
        assert_eq!(y[1], -1.0);
        assert!((y[2] - 0.2 * 10f32.sqrt()).abs() < 1e-6);
        assert!(gain(&x, f32::NAN).is_err());
    }

    #[test]
    fn band_limit_removes_what_the_channel_cannot_carry() {
        let x = speechy(SR as usize);
        for (rate, cut) in [(16_000u32, 8000.0), (8_000, 4000.0)] {
            let y = band_limit(&x, SR, rate).unwrap();
            assert_eq!(y.len(), x.len());
            // The 9 kHz tone is gone, the 220 Hz and 3.1 kHz tones pass.
            assert!(band_power(&y, cut, 24_000.0) < 1e-3 * band_power(&x, cut, 24_000.0));
            let keep = |v: &[f32]| band_power(v, 100.0, 3500.0);
            assert!((keep(&y) / keep(&x) - 1.0).abs() < 0.05, "{rate}");
        }
        assert!(band_limit(&x, SR, 0).is_err());
    }
}
