//! The model artifact: bit-exact round trips and clear errors for bad files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use burn::tensor::{Device, Distribution, Tensor};
use sermo_model::{
    Artifact, ArtifactMeta, Classifier, ModelError, Precision, Provenance, Scaler, SermoNetConfig,
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
    let mut clf = Classifier::new(&a, &device).unwrap();
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
