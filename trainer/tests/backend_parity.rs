//! The GPU backend against the CPU backend: the same weights and inputs must give the same
//! numbers on burn-wgpu as on burn's flex, layer by layer and for a whole training step.
//!
//! These tests only exist in a GPU build (`--features wgpu` or `vulkan`); `cargo xtask
//! test-gpu` builds one and runs them on whatever Vulkan device is present (Mesa's software
//! device, lavapipe, where there is no GPU). They were written when the first GPU training run
//! saved a model at chance (issue 29): each layer's forward pass, gradients and BatchNorm
//! running statistics are compared separately, so that a failure names the operation.
//!
//! Shapes are the network's own at the training batch, 16, on a device that passes
//! `check_training_device` at 16; on one that does not (lavapipe) at 4, the largest power of
//! two it sums exactly, and `the_device_check_predicts_batch_norm` shows that the check
//! fails exactly where BatchNorm's statistics go wrong.
#![cfg(feature = "wgpu")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::optim::{GradientsParams, SgdConfig, momentum::MomentumConfig};
use burn::tensor::{Device, DeviceKind, Int, Tensor, TensorData};
use burn_store::ModuleSnapshot;
use sermo_model::train::Batch;
use sermo_model::{BatchNorm, SermoNet, SermoNetConfig, check_training_device};

/// ‖gpu − cpu‖ / ‖cpu‖ must not exceed this (float sums run in another order on the GPU).
const TOLERANCE: f64 = 1e-4;
/// The trainer's batch size.
const TRAINING_BATCH: usize = 16;
/// The batch used on a device that cannot sum a training batch's channels exactly.
const SMALL_BATCH: usize = 4;

fn cpu() -> Device {
    Device::flex()
}

/// The device `sermo train --backend wgpu` uses.
fn gpu() -> Device {
    #[cfg(feature = "vulkan")]
    return Device::vulkan(DeviceKind::DefaultDevice);
    #[cfg(not(feature = "vulkan"))]
    return Device::wgpu(DeviceKind::DefaultDevice);
}

/// The batch these tests run the network's shapes at on the GPU (see the module's doc).
fn batch() -> usize {
    let config = SermoNetConfig::paper();
    if check_training_device(&config, &gpu(), TRAINING_BATCH).is_ok() {
        return TRAINING_BATCH;
    }
    check_training_device(&config, &gpu(), SMALL_BATCH).unwrap();
    eprintln!(
        "this device cannot train at batch {TRAINING_BATCH} (check_training_device): \
         comparing at batch {SMALL_BATCH}"
    );
    SMALL_BATCH
}

/// Deterministic values in [-1, 1) (splitmix64), the same on every machine.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn tensor<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(values(n, seed), shape), device)
}

/// A module built by `build` with weights drawn on the seeded CPU, copied into one built on
/// `device` as a checkpoint is loaded (so that the copy's parameters are the device's own,
/// tracked for gradients on an autodiff device). burn draws weights lazily, when first read,
/// from one generator per backend: the lock keeps tests running in parallel from drawing
/// from it in between.
fn seeded<M: Module>(build: impl Fn(&Device) -> M, device: &Device) -> M {
    static CPU_GENERATOR: Mutex<()> = Mutex::new(());
    let _guard = CPU_GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let cpu = cpu().autodiff();
    cpu.seed(7);
    let record = build(&cpu).into_record();
    build(device).load_record(record)
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn relative_error(gpu: &[f32], cpu: &[f32]) -> f64 {
    assert_eq!(gpu.len(), cpu.len(), "lengths differ");
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for (&a, &b) in gpu.iter().zip(cpu) {
        diff += (f64::from(a) - f64::from(b)).powi(2);
        norm += f64::from(b).powi(2);
    }
    (diff / norm.max(f64::MIN_POSITIVE)).sqrt()
}

type Named = BTreeMap<String, Vec<f32>>;

/// The largest relative error between two sets of named values, and whose, after printing
/// every one.
fn worst(what: &str, gpu: &Named, cpu: &Named) -> (String, f64) {
    assert_eq!(
        gpu.keys().collect::<Vec<_>>(),
        cpu.keys().collect::<Vec<_>>(),
        "{what}: different tensors"
    );
    let mut worst = (String::new(), 0.0f64);
    for (name, cpu_values) in cpu {
        let error = relative_error(&gpu[name], cpu_values);
        eprintln!("{what}: {name:<55} relative error {error:.2e}");
        if error.is_nan() || error > worst.1 {
            worst = (name.clone(), error);
        }
    }
    worst
}

fn assert_close(what: &str, gpu: &Named, cpu: &Named) {
    let (name, error) = worst(what, gpu, cpu);
    assert!(
        error <= TOLERANCE,
        "{what}: {name} differs between wgpu and flex by {error:.2e} (> {TOLERANCE:e})"
    );
}

/// `loss = Σ y · w` with `w` fixed random values, so that every output gets its own gradient.
fn weighted_sum(y: Tensor<4>, seed: u64) -> Tensor<1> {
    let w = tensor(y.dims(), seed, &y.device());
    (y * w).sum()
}

/// The first convolution of a CNN block on a batch of MFCC maps.
#[test]
fn convolution_forward_and_backward_agree() {
    let batch = batch();
    let numbers = |device: &Device| {
        let ad = device.clone().autodiff();
        let build = |d: &Device| {
            Conv2dConfig::new([1, 16], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(d)
        };
        let conv = seeded(build, &ad);
        let x = tensor([batch, 1, 40, 282], 1, &ad).require_grad();
        let y = conv.forward(x.clone());
        let grads = weighted_sum(y.clone(), 2).backward();
        let bias = conv.bias.as_ref().unwrap();
        Named::from([
            ("output".into(), to_vec(y)),
            ("input grad".into(), to_vec(x.grad(&grads).unwrap())),
            (
                "weight grad".into(),
                to_vec(conv.weight.grad(&grads).unwrap()),
            ),
            ("bias grad".into(), to_vec(bias.grad(&grads).unwrap())),
        ])
    };
    assert_close("conv2d", &numbers(&gpu()), &numbers(&cpu()));
}

/// BatchNorm (sermo's, as the model uses it) in training mode on the first convolution's
/// output: output, gradients and the running statistics it updates.
fn batch_norm_numbers(device: &Device, batch: usize) -> Named {
    let ad = device.clone().autodiff();
    let bn = seeded(|d: &Device| BatchNorm::new(16, d), &ad);
    // Neither centred nor of unit variance, as a convolution's output.
    let x = (tensor([batch, 16, 40, 282], 3, &ad) * 3.0 + 0.5).require_grad();
    let y = bn.forward(x.clone());
    let grads = weighted_sum(y.clone(), 4).backward();
    let mut named = Named::from([
        ("output".into(), to_vec(y)),
        ("input grad".into(), to_vec(x.grad(&grads).unwrap())),
        ("gamma grad".into(), to_vec(bn.gamma.grad(&grads).unwrap())),
        ("beta grad".into(), to_vec(bn.beta.grad(&grads).unwrap())),
    ]);
    let bn = bn.valid();
    named.insert("running mean".into(), to_vec(bn.running_mean.value()));
    named.insert("running var".into(), to_vec(bn.running_var.value()));
    named
}

#[test]
fn batch_norm_in_training_mode_agrees() {
    let batch = batch();
    assert_close(
        "batch norm",
        &batch_norm_numbers(&gpu(), batch),
        &batch_norm_numbers(&cpu(), batch),
    );
}

/// The device check is what stands between a device that sums wrongly and a useless model:
/// where it passes, BatchNorm agrees with the CPU; where it fails, BatchNorm does not.
#[test]
fn the_device_check_predicts_batch_norm() {
    let config = SermoNetConfig::paper();
    for batch in [SMALL_BATCH, TRAINING_BATCH] {
        let passes = check_training_device(&config, &gpu(), batch).is_ok();
        let (name, error) = worst(
            &format!("batch norm at batch {batch}"),
            &batch_norm_numbers(&gpu(), batch),
            &batch_norm_numbers(&cpu(), batch),
        );
        eprintln!("batch {batch}: device check passes: {passes}; worst error {error:.2e} ({name})");
        assert_eq!(
            passes,
            error <= TOLERANCE,
            "at batch {batch} the device check says {passes} but BatchNorm's worst error is \
             {error:.2e} ({name})"
        );
    }
}

#[test]
fn max_pooling_forward_and_backward_agree() {
    let batch = batch();
    let numbers = |device: &Device| {
        let ad = device.clone().autodiff();
        let mut named = Named::new();
        for (size, shape) in [(2, [batch, 16, 40, 282]), (4, [batch, 32, 20, 141])] {
            let pool = MaxPool2dConfig::new([size, size])
                .with_strides([size, size])
                .init();
            let x = tensor(shape, 5, &ad).require_grad();
            let y = pool.forward(x.clone());
            let grads = weighted_sum(y.clone(), 6).backward();
            named.insert(format!("{size}x{size} output"), to_vec(y));
            named.insert(
                format!("{size}x{size} input grad"),
                to_vec(x.grad(&grads).unwrap()),
            );
        }
        named
    };
    assert_close("max pool", &numbers(&gpu()), &numbers(&cpu()));
}

/// The paper's network without dropout, with the seeded CPU's weights, on `device`.
fn network(device: &Device) -> SermoNet {
    let config = SermoNetConfig::paper()
        .with_conv_dropout(0.0)
        .with_transformer_dropout(0.0);
    seeded(|d: &Device| config.init(d), device)
}

fn named_tensors(model: &SermoNet) -> Named {
    model
        .collect(None, None, false)
        .into_iter()
        .map(|snapshot| {
            let (name, _, _, _, bytes) = snapshot.into_parts().unwrap();
            let values = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, values)
        })
        .collect()
}

#[test]
fn the_network_gives_the_same_logits_in_evaluation_mode() {
    let logits = |device: &Device| {
        let model = network(&device.clone().autodiff()).valid();
        let x = tensor([4, 1, 40, 282], 8, device);
        Named::from([("logits".into(), to_vec(model.forward(x)))])
    };
    assert_close("network (eval)", &logits(&gpu()), &logits(&cpu()));
}

/// One step of the trainer's SGD (momentum, weight decay) from the same weights and batch:
/// the updated weights and BatchNorm running statistics must agree.
#[test]
fn one_training_step_gives_the_same_weights_and_running_statistics() {
    let batch = batch();
    let after_one_step = |device: &Device| {
        let ad = device.clone().autodiff();
        let model = network(&ad);
        let targets: Vec<i64> = (0..batch as i64).map(|i| i % 8).collect();
        let batch = Batch {
            inputs: tensor([batch, 1, 40, 282], 9, &ad),
            targets: Tensor::<1, Int>::from_data(TensorData::new(targets, [batch]), &ad),
        };
        let output = model.forward_classification(batch);
        let grads = GradientsParams::from_grads(output.loss.backward(), &model);
        let mut optim = SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
            ))
            .with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(1e-4)))
            .init();
        let model = optim.step(0.01, model, grads);
        named_tensors(&model.valid())
    };
    assert_close(
        "training step",
        &after_one_step(&gpu()),
        &after_one_step(&cpu()),
    );
}
