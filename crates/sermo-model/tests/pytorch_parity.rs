//! The model against PyTorch: a `state_dict` of the reference architecture
//! (`reference/model.py`), imported with `import_state_dict`, must give PyTorch's logits and
//! probabilities on the same input.
//!
//! Fixtures: `tests/fixtures/model/`, written by `export_weights.py` beside them (seeded, run by
//! hand with PyTorch; see `reference/README.md`).
#![cfg(feature = "pytorch")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use sermo_model::{SermoNet, SermoNetConfig, import_state_dict};

/// ‖ours − torch‖ / ‖torch‖ must not exceed this.
const TOLERANCE: f64 = 1e-5;
const BATCH: usize = 3;
const CLASSES: usize = 8;
const INPUT: [usize; 4] = [BATCH, 1, 40, 282];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/model")
}

fn read_f32(name: &str, len: usize) -> Vec<f32> {
    let path = fixtures().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        bytes.len(),
        4 * len,
        "{} holds {} bytes, expected {}",
        path.display(),
        bytes.len(),
        4 * len
    );
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn relative_error(ours: &[f32], reference: &[f32]) -> f64 {
    assert_eq!(ours.len(), reference.len());
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for (&a, &b) in ours.iter().zip(reference) {
        diff += (f64::from(a) - f64::from(b)).powi(2);
        norm += f64::from(b).powi(2);
    }
    (diff / norm).sqrt()
}

fn load_fixture_model(device: &Device) -> SermoNet {
    import_state_dict(
        &fixtures().join("state_dict.pt"),
        &SermoNetConfig::paper(),
        device,
    )
    .expect("the reference state_dict imports")
}

/// The three branch embeddings, concatenated as `SermoNet::forward` does (512 | 512 | 40), to
/// say which branch disagrees when the logits do.
fn embedding(model: &SermoNet, x: Tensor<4>) -> Vec<f32> {
    let spatial1 = model.conv2d_block1.forward(x.clone());
    let spatial2 = model.conv2d_block2.forward(x.clone());
    let sequence = model
        .transformer_maxpool
        .forward(x)
        .squeeze_dim::<3>(1)
        .swap_dims(1, 2);
    let temporal = model
        .transformer_encoder
        .forward(sequence)
        .mean_dim(1)
        .squeeze_dim::<2>(1);
    to_vec(Tensor::cat(vec![spatial1, spatial2, temporal], 1))
}

#[test]
fn logits_and_probabilities_match_pytorch() {
    let device = Device::flex();
    let model = load_fixture_model(&device);
    let input = read_f32("input.bin", INPUT.iter().product());
    let torch_logits = read_f32("logits.bin", BATCH * CLASSES);
    let torch_probabilities = read_f32("probabilities.bin", BATCH * CLASSES);
    let torch_embedding = read_f32("embedding.bin", BATCH * 1064);
    let fixture: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("fixture.json")).unwrap()).unwrap();
    let logits_f64: Vec<f32> = fixture["logits_float64"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
        })
        .collect();

    let x = Tensor::<4>::from_data(TensorData::new(input, INPUT), &device);

    // Per-branch agreement first: printed so a failure below says where it comes from.
    let ours_embedding = embedding(&model, x.clone());
    for (name, lo, hi) in [
        ("conv2Dblock1", 0, 512),
        ("conv2Dblock2", 512, 1024),
        ("transformer", 1024, 1064),
    ] {
        let pick = |v: &[f32]| -> Vec<f32> {
            v.chunks_exact(1064)
                .flat_map(|row| row[lo..hi].to_vec())
                .collect()
        };
        let error = relative_error(&pick(&ours_embedding), &pick(&torch_embedding));
        println!("branch {name:<13} relative error {error:.3e}");
    }

    let (logits, probabilities) = model.infer(x.clone());
    let logits = to_vec(logits);
    let probabilities = to_vec(probabilities);
    let forward_logits = to_vec(model.forward(x));

    let logits_error = relative_error(&logits, &torch_logits);
    let probabilities_error = relative_error(&probabilities, &torch_probabilities);
    let float64_error = relative_error(&logits, &logits_f64);
    let torch_float64_error = relative_error(&torch_logits, &logits_f64);
    println!("logits        relative error {logits_error:.3e} (tolerance {TOLERANCE:.0e})");
    println!("probabilities relative error {probabilities_error:.3e} (tolerance {TOLERANCE:.0e})");
    println!(
        "logits vs PyTorch float64: ours {float64_error:.3e}, PyTorch float32 {torch_float64_error:.3e}"
    );
    println!("ours  logits {logits:?}");
    println!("torch logits {torch_logits:?}");

    assert_eq!(
        logits, forward_logits,
        "infer's logits differ from forward's"
    );
    assert!(
        logits_error <= TOLERANCE,
        "logits differ from PyTorch's: relative error {logits_error:.3e}"
    );
    assert!(
        probabilities_error <= TOLERANCE,
        "probabilities differ from PyTorch's: relative error {probabilities_error:.3e}"
    );
    assert!(
        float64_error <= TOLERANCE,
        "logits differ from PyTorch's float64 run: relative error {float64_error:.3e}"
    );
    for row in probabilities.chunks_exact(CLASSES) {
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "probabilities sum to {sum}");
    }
}

/// A scratch directory of this test process, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("sermo-pytorch-parity-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn truncated_or_corrupt_state_dict_is_an_error_not_a_panic() {
    let device = Device::flex();
    let scratch = Scratch::new("corrupt");
    let bytes = std::fs::read(fixtures().join("state_dict.pt")).unwrap();
    let n = bytes.len();
    let mut cases: Vec<(String, Vec<u8>)> = [0, 4, 100, n / 2, n - 1000, n - 10]
        .into_iter()
        .map(|len| {
            (
                format!("truncated to {len} of {n} bytes"),
                bytes[..len].to_vec(),
            )
        })
        .collect();
    cases.push((
        "not a zip file".into(),
        b"this is not a PyTorch file\n".repeat(100),
    ));

    for (i, (what, contents)) in cases.into_iter().enumerate() {
        let path = scratch.0.join(format!("broken-{i}.pt"));
        std::fs::write(&path, contents).unwrap();
        let result = catch_unwind(AssertUnwindSafe(|| {
            import_state_dict(&path, &SermoNetConfig::paper(), &device)
        }));
        match result {
            Err(_) => {
                panic!("importing a state_dict {what} panicked instead of returning an error")
            }
            Ok(Ok(_)) => panic!("importing a state_dict {what} succeeded"),
            Ok(Err(e)) => println!("{what}: {e}"),
        }
    }

    let missing = scratch.0.join("missing.pt");
    let e = import_state_dict(&missing, &SermoNetConfig::paper(), &device)
        .expect_err("a missing file is an error");
    println!("missing file: {e}");
}

#[test]
fn state_dict_of_another_architecture_names_the_missing_tensors() {
    let device = Device::flex();
    let path = fixtures().join("other_arch.pt");
    let result = catch_unwind(AssertUnwindSafe(|| {
        import_state_dict(&path, &SermoNetConfig::paper(), &device)
    }));
    let error = match result {
        Err(_) => panic!("importing another architecture's state_dict panicked"),
        Ok(Ok(_)) => panic!("a bare nn.Linear(3, 4) state_dict imported as the paper's network"),
        Ok(Err(e)) => e.to_string(),
    };
    println!("other architecture: {error}");
    assert!(
        error.contains("missing"),
        "the error does not say tensors are missing: {error}"
    );
    assert!(
        [
            "conv2d_block",
            "conv2Dblock",
            "transformer_encoder",
            "fc1_linear"
        ]
        .iter()
        .any(|name| error.contains(name)),
        "the error names none of the network's tensors: {error}"
    );
}
