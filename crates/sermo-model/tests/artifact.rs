//! The model artifact: bit-exact round trips and clear errors for bad files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use burn::tensor::{Device, Distribution, Tensor};
use std::path::PathBuf;

use sermo_model::{
    Artifact, ArtifactMeta, Classifier, ModelError, Precision, Provenance, SHA256_KEY, Scaler,
    Seal, SermoNetConfig,
};

fn artifact() -> Artifact {
    let device = Device::flex();
    device.seed(3);
    let model = SermoNetConfig::paper().init(&device);
    let meta = ArtifactMeta::paper(Provenance {
        name: "test".into(),
        ..Provenance::default()
    });
    let len = 40 * 282;
    let scaler = Scaler {
        mean: (0..len).map(|i| i as f32 * 1e-3).collect(),
        std: (0..len).map(|i| 1.0 + i as f32 * 1e-4).collect(),
    };
    Artifact::from_model(&model, meta, scaler).unwrap()
}

fn message(e: ModelError) -> String {
    e.to_string()
}

#[test]
fn round_trips_bit_exactly() {
    let a = artifact();
    let bytes = a.to_bytes().unwrap();
    let b = Artifact::from_bytes(&bytes).unwrap();
    assert_eq!(a, b);
    assert_eq!(bytes, b.to_bytes().unwrap());
    assert_eq!(
        a.num_params(),
        248_488,
        "the paper's network has 248,488 parameters (PyTorch count)"
    );
}

#[test]
fn f16_weights_halve_the_file_and_round_to_nearest() {
    let a = artifact();
    let full = a.to_bytes().unwrap();
    let half = a.to_bytes_as(Precision::F16).unwrap();
    // Weights shrink to half; the f32 scaler (2 × 11280 values) and the header stay:
    // 1.10 MB → 0.60 MB.
    assert!(
        half.len() * 100 < full.len() * 56,
        "{} vs {}",
        half.len(),
        full.len()
    );
    let b = Artifact::from_bytes(&half).unwrap();
    assert_eq!(a.scaler, b.scaler, "the scaler stays f32");
    assert_eq!(a.meta, b.meta);
    for (name, t) in &a.weights {
        let r = &b.weights[name];
        assert_eq!(t.shape, r.shape);
        for (&x, &y) in t.values.iter().zip(&r.values) {
            // Nearest f16: relative error ≤ 2^-11 for normal values.
            assert!(
                (x - y).abs() <= x.abs() * 4.9e-4 + 6e-8,
                "{name}: {x} stored as {y}"
            );
        }
    }
    // Writing the widened weights as f16 again gives the same bytes.
    assert_eq!(b.to_bytes_as(Precision::F16).unwrap(), half);
}

#[test]
fn built_network_reproduces_the_original() {
    let device = Device::flex();
    let a = artifact();
    let net1 = a.build(&device).unwrap();
    let net2 = Artifact::from_bytes(&a.to_bytes().unwrap())
        .unwrap()
        .build(&device)
        .unwrap();
    let x = Tensor::<4>::random([2, 1, 40, 282], Distribution::Normal(0.0, 1.0), &device);
    let y1 = net1
        .forward(x.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let y2 = net2.forward(x).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(y1, y2);
}

#[test]
fn rejects_garbage_truncation_and_mismatch() {
    let bytes = artifact().to_bytes().unwrap();
    let e = message(Artifact::from_bytes(b"not a model").unwrap_err());
    assert!(e.contains("safetensors"), "{e}");
    let e = message(Artifact::from_bytes(&bytes[..bytes.len() / 2]).unwrap_err());
    assert!(e.contains("invalid model artifact"), "{e}");

    // A network tensor of the wrong shape.
    let mut a = artifact();
    a.weights.get_mut("fc1_linear.bias").unwrap().shape = vec![4, 2];
    let e = message(a.build(&Device::flex()).unwrap_err());
    assert!(
        e.contains("fc1_linear.bias") || e.contains("do not fit"),
        "{e}"
    );

    // A missing network tensor.
    let mut a = artifact();
    a.weights.remove("fc1_linear.weight");
    let e = message(a.build(&Device::flex()).unwrap_err());
    assert!(e.contains("missing"), "{e}");

    // Labels that do not match the classes; a scaler of the wrong size; a future version.
    let mut a = artifact();
    a.meta.labels.pop();
    assert!(message(a.to_bytes().unwrap_err()).contains("labels"));
    let mut a = artifact();
    a.scaler.mean.pop();
    assert!(message(a.to_bytes().unwrap_err()).contains("scaler"));
    let mut a = artifact();
    a.meta.version = 99;
    assert!(message(a.to_bytes().unwrap_err()).contains("version"));
}

#[test]
fn classifier_turns_audio_into_a_distribution() {
    let device = Device::flex();
    let a = artifact();
    let clf = Classifier::new(&a, &device).unwrap();
    let samples: Vec<f32> = (0..48_000 * 4)
        .map(|i| 0.3 * (i as f32 * 0.05).sin())
        .collect();
    let p = clf
        .classify(&sermo_dsp::Audio::new(samples, 48_000))
        .unwrap();
    assert_eq!(p.probabilities.len(), 8);
    assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert!(p.voiced && p.label.is_some());

    let silence = sermo_dsp::Audio::new(vec![0.0; 48_000 * 4], 48_000);
    let p = clf.classify(&silence).unwrap();
    assert!(
        !p.voiced && p.label.is_none(),
        "silence must not get an emotion"
    );
}

/// Where the tensor data of safetensors `bytes` begins.
fn data_start(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

#[test]
fn the_tensor_data_is_sealed_and_checked_on_every_load() {
    let bytes = artifact().to_bytes().unwrap();
    let (_, seal) = Artifact::read(&bytes).unwrap();
    assert!(
        matches!(seal, Seal::Verified(ref h) if h.len() == 64),
        "{seal:?}"
    );

    // Any changed byte of the tensor data is an error that says so, wherever it falls.
    let start = data_start(&bytes);
    for (k, at) in [
        start,
        start + 1234,
        (start + bytes.len()) / 2,
        bytes.len() - 1,
    ]
    .into_iter()
    .enumerate()
    {
        let mut damaged = bytes.clone();
        damaged[at] ^= 1 << (k % 8);
        let e = message(Artifact::from_bytes(&damaged).unwrap_err());
        assert!(e.contains("damaged or was altered"), "byte {at}: {e}");
    }

    // A file written before the hash existed still loads, and says it could not be checked.
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata = header.metadata().clone().unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&metadata["sermo"]).unwrap();
    assert!(json.as_object_mut().unwrap().remove(SHA256_KEY).is_some());
    metadata.insert("sermo".into(), json.to_string());
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let old = safetensors::serialize(st.tensors(), Some(metadata)).unwrap();
    let (loaded, seal) = Artifact::read(&old).unwrap();
    assert_eq!(seal, Seal::Missing);
    assert_eq!(loaded, artifact());
    // Rewriting it adds the hash without touching the tensor data.
    let rewritten = loaded.to_bytes().unwrap();
    assert_eq!(
        &rewritten[data_start(&rewritten)..],
        &old[data_start(&old)..]
    );
    assert!(matches!(
        Artifact::read(&rewritten).unwrap().1,
        Seal::Verified(_)
    ));
}

/// Probabilities of the shipped models for tests/fixtures/audio/speech-48000hz-pcm16-mono.wav,
/// recorded from the files as shipped before they carried a hash (the hash was added without
/// changing a weight: these must not move).
const SHIPPED_PROBABILITIES: [(&str, &[f32]); 2] = [
    (
        "default",
        &[
            2.6706903e-6,
            3.5938372e-6,
            8.1053195e-6,
            4.1127994e-5,
            0.9967714,
            2.060594e-5,
            0.0031430798,
            9.516089e-6,
        ],
    ),
    (
        "paper",
        &[
            1.1766738e-17,
            0.00020683868,
            0.000106388194,
            0.0710034,
            0.9247779,
            4.7424514e-6,
            0.0039007056,
            6.8951707e-9,
        ],
    ),
];

#[test]
fn shipped_models_load_verified_and_predict_as_they_always_did() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let clip =
        sermo_dsp::decode_file(root.join("tests/fixtures/audio/speech-48000hz-pcm16-mono.wav"))
            .unwrap();
    for (name, expected) in SHIPPED_PROBABILITIES {
        let bytes = std::fs::read(root.join(format!("models/{name}.safetensors"))).unwrap();
        let (artifact, seal) = Artifact::read(&bytes).unwrap();
        let p = Classifier::new(&artifact, &Device::flex())
            .unwrap()
            .classify(&clip)
            .unwrap();
        eprintln!("{name}: {:?}", p.probabilities);
        assert!(matches!(seal, Seal::Verified(_)), "{name}: {seal:?}");
        assert_eq!(p.probabilities.len(), expected.len(), "{name}: its labels");
        for (got, want) in p.probabilities.iter().zip(expected) {
            assert!(
                (got - want).abs() <= 1e-6,
                "{name}: {:?} vs {expected:?}",
                p.probabilities
            );
        }
    }
}
