//! Decoding WAV and FLAC into mono `f32` samples.
//!
//! Integer PCM is scaled to [-1, 1) by dividing by 2^(bits-1) (unsigned 8-bit is centred first),
//! exactly as soundfile does for librosa; float PCM is taken as it is. Channels are mixed to mono
//! by their mean, as `librosa.to_mono` does, so a stereo clip keeps both channels' content.
//!
//! Untrusted input is the normal case here (uploads, a browser's file picker), so every
//! malformed stream becomes a [`DspError`] naming the file, never a panic, and no buffer is
//! sized from a header's claims: samples are appended as packets decode, and a clip longer than
//! [`MAX_DURATION_S`] is refused.

use std::io::{Cursor, ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use crate::error::DspError;

/// Longest clip [`decode`] accepts, in seconds: 10 minutes.
///
/// Emotion recognition works on utterances of a few seconds; the cap keeps a hostile or
/// mistaken input (a film, a header claiming 2^31 frames) from exhausting memory, which matters
/// most in a browser tab.
pub const MAX_DURATION_S: f32 = 600.0;

/// Highest sample rate [`decode`] accepts, in Hz (with [`MAX_DURATION_S`] this bounds memory at
/// 4 bytes × 600 s × 384000 Hz ≈ 0.9 GB for a mono result).
pub const MAX_SAMPLE_RATE: u32 = 384_000;

/// A decoded clip: mono samples in [-1, 1] and their rate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Audio {
    /// Mono samples (the mean of the channels).
    pub samples: Vec<f32>,
    /// Samples per second, in Hz.
    pub sample_rate: u32,
}

impl Audio {
    /// Wraps samples already in memory (a microphone buffer, a `Float32Array`).
    pub fn new(samples: Vec<f32>, sample_rate: u32) -> Self {
        Self {
            samples,
            sample_rate,
        }
    }

    /// Length in seconds (0 when the rate is 0).
    pub fn duration_s(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.samples.len() as f64 / f64::from(self.sample_rate)
        }
    }
}

/// Decodes a WAV or FLAC file held in memory.
///
/// `name` is used in error messages and, through its extension, as a hint to the container
/// probe; the content decides in the end. Supported: WAV PCM 8/16/24/32-bit integer, 32/64-bit
/// float, `WAVE_FORMAT_EXTENSIBLE`, any number of channels and any rate up to
/// [`MAX_SAMPLE_RATE`]; FLAC.
///
/// # Errors
/// [`DspError::Empty`], [`DspError::NotAudio`], [`DspError::Unsupported`],
/// [`DspError::Malformed`], [`DspError::Truncated`] or [`DspError::TooLong`], each naming `name`.
pub fn decode(bytes: &[u8], name: &str) -> Result<Audio, DspError> {
    if bytes.is_empty() {
        return Err(DspError::Empty {
            file: name.to_owned(),
            reason: "0 bytes".into(),
        });
    }
    check_wav_header(bytes, name)?;
    guarded(name, || decode_source(Box::new(Cursor::new(bytes)), name))
}

/// Reads and decodes a WAV or FLAC file from disk; see [`decode`].
///
/// The file is streamed, not read whole first. (It compiles on wasm32 too, where it returns
/// [`DspError::Io`] as the platform has no file system.)
pub fn decode_file(path: impl AsRef<Path>) -> Result<Audio, DspError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|reason| DspError::Io {
        file: path.to_path_buf(),
        reason,
    })?;
    let name = path.display().to_string();
    let len = file
        .metadata()
        .map_err(|reason| DspError::Io {
            file: path.to_path_buf(),
            reason,
        })?
        .len();
    if len == 0 {
        return Err(DspError::Empty {
            file: name,
            reason: "0 bytes".into(),
        });
    }
    let mut file = file;
    let mut prefix = Vec::new();
    (&mut file)
        .take(HEADER_PREFIX as u64)
        .read_to_end(&mut prefix)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .map_err(|reason| DspError::Io {
            file: path.to_path_buf(),
            reason,
        })?;
    check_wav_header(&prefix, &name)?;
    guarded(&name, || decode_source(Box::new(file), &name))
}

/// Bytes of a file inspected by [`check_wav_header`].
const HEADER_PREFIX: usize = 64 * 1024;

/// Most channels accepted (WAVE_FORMAT_EXTENSIBLE positions 18; more are unusual but legal).
pub const MAX_CHANNELS: u16 = 256;

/// Checks a RIFF/WAVE header's format fields before symphonia reads them.
///
/// symphonia 0.6 multiplies some of these fields unchecked (a corrupt channel count panics in
/// a debug build) and reports zero rates or channels only generically; checking them here gives
/// a precise error. Inputs that are not WAV, or whose `fmt ` chunk is not in `prefix`, pass
/// through untouched for symphonia to judge.
fn check_wav_header(prefix: &[u8], name: &str) -> Result<(), DspError> {
    let malformed = |reason: String| {
        Err(DspError::Malformed {
            file: name.to_owned(),
            reason,
        })
    };
    if prefix.len() < 12 || &prefix[0..4] != b"RIFF" || &prefix[8..12] != b"WAVE" {
        return Ok(());
    }
    let u16_at = |i: usize| u16::from_le_bytes([prefix[i], prefix[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([prefix[i], prefix[i + 1], prefix[i + 2], prefix[i + 3]]);
    let mut pos = 12usize;
    while pos + 8 <= prefix.len() {
        let size = u32_at(pos + 4) as usize;
        if &prefix[pos..pos + 4] == b"fmt " {
            let f = pos + 8;
            if size < 16 || f + 16 > prefix.len() {
                return Ok(());
            }
            let (channels, rate, bits) = (u16_at(f + 2), u32_at(f + 4), u16_at(f + 14));
            if channels == 0 {
                return malformed("0 channels".into());
            }
            if channels > MAX_CHANNELS {
                return Err(DspError::Unsupported {
                    file: name.to_owned(),
                    reason: format!("{channels} channels (the limit is {MAX_CHANNELS})"),
                });
            }
            if rate == 0 {
                return malformed("sample rate is 0".into());
            }
            if bits > 64 {
                return malformed(format!("{bits} bits per sample"));
            }
            // WAVE_FORMAT_EXTENSIBLE: symphonia reconciles the 32-bit channel mask with the
            // channel count by shifting, which overflows for masks far off the count.
            if u16_at(f) == 0xFFFE && size >= 24 && f + 24 <= prefix.len() {
                let mask = u32_at(f + 20);
                let missing = i64::from(channels) - i64::from(mask.count_ones());
                let top = i64::from(32 - mask.leading_zeros());
                if channels > 32 || (missing > 0 && top + missing > 30) {
                    return Err(DspError::Unsupported {
                        file: name.to_owned(),
                        reason: format!(
                            "channel mask {mask:#010x} does not fit {channels} channels"
                        ),
                    });
                }
            }
            return Ok(());
        }
        match pos.checked_add(8 + size + (size & 1)) {
            Some(next) => pos = next,
            None => return Ok(()),
        }
    }
    Ok(())
}

/// Runs a decode, turning a panic inside the decoder into [`DspError::Malformed`].
///
/// A last line of defence against bugs in third-party parsing code on hostile input; with
/// `panic = "abort"` (as on wasm) it cannot catch anything, which is why the input is also
/// checked up front.
fn guarded<T>(name: &str, f: impl FnOnce() -> Result<T, DspError>) -> Result<T, DspError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(DspError::Malformed {
            file: name.to_owned(),
            reason: "the decoder failed on corrupt data".into(),
        })
    })
}

fn decode_source<'s>(source: Box<dyn MediaSource + 's>, name: &str) -> Result<Audio, DspError> {
    let file = || name.to_owned();
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = Path::new(name).extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::Unsupported(_) => DspError::NotAudio {
                file: file(),
                reason: e.to_string(),
            },
            other => map_err(other, name),
        })?;

    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| DspError::NotAudio {
            file: file(),
            reason: "no audio track".into(),
        })?;
    let track_id = track.id;
    let header_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| DspError::Unsupported {
            file: file(),
            reason: "the track has no audio codec parameters".into(),
        })?
        .clone();

    let sample_rate = match params.sample_rate {
        None | Some(0) => {
            return Err(DspError::Malformed {
                file: file(),
                reason: "sample rate is 0 or missing".into(),
            });
        }
        Some(r) if r > MAX_SAMPLE_RATE => {
            return Err(DspError::Unsupported {
                file: file(),
                reason: format!("sample rate {r} Hz exceeds the limit of {MAX_SAMPLE_RATE} Hz"),
            });
        }
        Some(r) => r,
    };
    if params.channels.as_ref().is_none_or(|c| c.count() == 0) {
        return Err(DspError::Malformed {
            file: file(),
            reason: "0 channels".into(),
        });
    }
    // The cap in frames; f64 → usize is exact for these magnitudes (< 2^28).
    let max_frames = (f64::from(MAX_DURATION_S) * f64::from(sample_rate)) as u64;
    let too_long = |frames: u64| DspError::TooLong {
        file: file(),
        seconds: frames as f64 / f64::from(sample_rate),
        max_seconds: MAX_DURATION_S,
    };
    if let Some(n) = header_frames
        && n > max_frames
    {
        return Err(too_long(n));
    }

    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| DspError::Unsupported {
            file: file(),
            reason: e.to_string(),
        })?;

    let mut mono: Vec<f32> = Vec::new();
    let mut interleaved: Vec<f64> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return Err(map_err(e, name)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = decoder.decode(&packet).map_err(|e| map_err(e, name))?;
        let spec = buf.spec();
        if spec.rate() != sample_rate {
            return Err(DspError::Unsupported {
                file: file(),
                reason: format!(
                    "sample rate changes mid-stream ({sample_rate} → {} Hz)",
                    spec.rate()
                ),
            });
        }
        let channels = spec.channels().count();
        if channels == 0 {
            return Err(DspError::Malformed {
                file: file(),
                reason: "0 channels".into(),
            });
        }
        let frames = buf.frames();
        let total = mono.len() as u64 + frames as u64;
        if total > max_frames {
            return Err(too_long(total));
        }
        if channels == 1 {
            // symphonia's integer → f32 conversion divides by 2^(bits-1) (exactly, in one
            // rounding), the same value soundfile gives.
            let start = mono.len();
            mono.resize(start + frames, 0.0);
            buf.copy_to_slice_interleaved(&mut mono[start..]);
        } else {
            buf.copy_to_vec_interleaved::<f64>(&mut interleaved);
            let scale = 1.0 / channels as f64;
            mono.extend(
                interleaved
                    .chunks_exact(channels)
                    .map(|frame| (frame.iter().sum::<f64>() * scale) as f32),
            );
        }
    }

    if mono.is_empty() {
        return Err(DspError::Empty {
            file: file(),
            reason: "no audio frames".into(),
        });
    }
    if let Some(n) = header_frames
        && (mono.len() as u64) < n
    {
        return Err(DspError::Truncated {
            file: file(),
            reason: format!(
                "the header declares {n} frames, the data holds {}",
                mono.len()
            ),
        });
    }
    if mono.iter().any(|s| !s.is_finite()) {
        return Err(DspError::Malformed {
            file: file(),
            reason: "samples are NaN or infinite".into(),
        });
    }
    Ok(Audio {
        samples: mono,
        sample_rate,
    })
}

/// Sorts symphonia's errors into ours: an unexpected end of data is a truncated file.
fn map_err(e: SymError, name: &str) -> DspError {
    let file = name.to_owned();
    match e {
        SymError::IoError(io) if io.kind() == ErrorKind::UnexpectedEof => DspError::Truncated {
            file,
            reason: "the data ends early".into(),
        },
        SymError::IoError(io) => DspError::Malformed {
            file,
            reason: io.to_string(),
        },
        SymError::Unsupported(what) => DspError::Unsupported {
            file,
            reason: what.into(),
        },
        SymError::ResetRequired => DspError::Unsupported {
            file,
            reason: "chained streams".into(),
        },
        other => DspError::Malformed {
            file,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn empty_bytes() {
        assert!(matches!(decode(&[], "x.wav"), Err(DspError::Empty { .. })));
    }

    #[test]
    fn garbage_is_not_audio() {
        let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        let err = decode(&bytes, "noise.bin").unwrap_err();
        assert!(matches!(err, DspError::NotAudio { .. }), "{err}");
        assert!(err.to_string().starts_with("noise.bin: "), "{err}");
    }
}
