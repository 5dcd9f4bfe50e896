//! `sermo predict --timeline`: every window of a recording, classified, as JSON and a chart;
//! the window at the fixed analysis offset is the one `sermo predict` classifies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::sermo;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/audio")
        .join(name)
}

fn json_lines(args: &[&str], files: &[&Path]) -> Vec<Value> {
    let out = sermo().args(args).args(files).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A 10.8 s recording at 44.1 kHz: the 3.6 s speech fixture three times over.
fn long_recording(dir: &Path) -> PathBuf {
    let source = fixture("speech-44100hz-pcm16-mono.wav");
    let mut reader = hound::WavReader::open(&source).unwrap();
    let spec = reader.spec();
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let path = dir.join("three-times.wav");
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    for _ in 0..3 {
        for &s in &samples {
            writer.write_sample(s).unwrap();
        }
    }
    writer.finalize().unwrap();
    path
}

#[test]
fn a_timeline_covers_the_recording_and_agrees_with_predict() {
    let dir = tempfile::tempdir().unwrap();
    let audio = long_recording(dir.path());
    let charts = dir.path().join("charts");
    let lines = json_lines(
        &[
            "predict",
            "--model",
            "paper",
            "--timeline",
            "--hop",
            "0.5",
            "--json",
            "--chart",
        ],
        &[&charts, &audio],
    );
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["file"], audio.display().to_string());
    assert_eq!(line["hop"], 0.5);
    let timeline = line["timeline"].as_array().unwrap();
    // 10.8 s: windows at 0, 0.5, …, 7.5 s, then one ending at 10.8 s.
    assert_eq!(timeline.len(), 17);
    let seconds = |m: &Value, key: &str| m[key].as_f64().unwrap();
    for (k, moment) in timeline[..16].iter().enumerate() {
        assert!((seconds(moment, "start") - 0.5 * k as f64).abs() < 1e-9);
        assert!((seconds(moment, "end") - seconds(moment, "start") - 3.0).abs() < 1e-9);
    }
    assert!((seconds(&timeline[16], "end") - 10.8).abs() < 1e-6);
    for moment in timeline {
        let p: f64 = moment["probabilitiesArray"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((p - 1.0).abs() < 1e-4, "{moment}");
        assert!(moment["voiced"].is_boolean() && moment["logits"].is_array());
        assert!(moment["probabilities"].is_object());
    }
    let png = std::fs::read(charts.join("three-times.wav.timeline.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    // The `paper` model's window is fixed at 0.5 s in (a speech-aligned model's would follow
    // the detected onset): the timeline's second window. The same map; scored alone rather
    // than in a batch of 17, so equal up to the matrix products' rounding.
    let single = &json_lines(&["predict", "--model", "paper", "--json"], &[&audio])[0];
    let probabilities = |m: &Value| -> Vec<f64> {
        m["probabilitiesArray"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    for (a, b) in probabilities(single)
        .iter()
        .zip(probabilities(&timeline[1]))
    {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    assert_eq!(single["label"], timeline[1]["label"]);
}

#[test]
fn a_short_clip_is_one_window_and_a_bad_hop_is_refused() {
    let clip = fixture("speech-16000hz-pcm16-mono.wav");
    let lines = json_lines(&["predict", "--timeline", "--json"], &[&clip]);
    let timeline = lines[0]["timeline"].as_array().unwrap();
    // 3.6 s: windows at 0 and 0.5 s, then one ending at 3.6 s (0.6 s).
    assert_eq!(timeline.len(), 3);
    let out = sermo()
        .args(["predict", "--timeline", "--hop", "0"])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hop must be a positive"), "{err}");
    // --hop and --chart only make sense with --timeline.
    let out = sermo()
        .args(["predict", "--hop", "1"])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(!out.status.success());
}
