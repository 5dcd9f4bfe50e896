//! Arbitrary bytes → `sermo_dsp::decode` → `sermo_dsp::FeatureExtractor::extract`.
//!
//! The contract under test: whatever the bytes, decoding returns `Ok` or an error naming the
//! file, and features of anything that decoded are a finite 40 × 282 matrix. A panic that
//! escapes (libfuzzer-sys aborts on it) or a non-finite value is a finding.
//!
//! symphonia panics on some malformed streams; `decode` catches those and turns them into
//! errors, so the panic hook is silenced here: only panics that reach this function count.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sermo_dsp::{FeatureConfig, FeatureExtractor, decode};

fuzz_target!(
    init: {
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
        // The first byte picks the name: the extension is only a hint to the probe.
        let name = if data.first().is_some_and(|b| b & 1 == 1) { "fuzz.flac" } else { "fuzz.wav" };
        match decode(data, name) {
            Ok(audio) => {
                let cfg = FeatureConfig::default();
                let extracted = FeatureExtractor::new(&cfg).and_then(|mut x| x.extract(&audio));
                if let Ok(m) = extracted.map(|f| f.map) {
                    assert_eq!(m.len(), cfg.n_mfcc * cfg.n_frames());
                    assert!(m.iter().all(|v| v.is_finite()), "non-finite feature");
                }
            }
            Err(e) => assert!(e.to_string().contains(name), "error does not name the file: {e}"),
        }
    }
);
