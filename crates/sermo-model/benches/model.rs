//! Speed of the network on the CPU (burn flex): single-clip and batch-64 inference, one
//! training step of the paper's recipe (batch 16, SGD momentum 0.9, weight decay 1e-4), and
//! where a step's time goes: forward + backward of each part alone (`cargo bench -p
//! sermo-model --features train,cpu-kernels --bench model -- part:`; `cpu-kernels` gives
//! the convolutions and BatchNorm → ReLU → max-pool the flex kernels `sermo train` uses on the
//! CPU).
//! The PyTorch side of the comparison: bench/pytorch_infer.py and bench/pytorch_train_step.py.

#![allow(clippy::unwrap_used)]

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use criterion::{Criterion, criterion_group, criterion_main};
use sermo_model::dropout::HostMasks;
use sermo_model::train::Batch;
use sermo_model::{SermoNetConfig, convolve};

fn inference(c: &mut Criterion) {
    let device = Device::flex();
    device.seed(0);
    let model = SermoNetConfig::paper().init(&device).valid();
    for batch in [1usize, 64] {
        let x = Tensor::<4>::random([batch, 1, 40, 282], Distribution::Normal(0.0, 1.0), &device);
        c.bench_function(&format!("inference batch {batch} (flex)"), |b| {
            b.iter(|| {
                let (_, p) = model.infer(x.clone());
                p.into_data()
            })
        });
    }
}

fn train_step(c: &mut Criterion) {
    // burn's device-drawn dropout masks, then sermo's host-drawn ones (what `sermo train` uses
    // on the CPU): the before and after of `sermo_model::dropout`.
    for host in [false, true] {
        let device = Device::flex().autodiff();
        device.seed(0);
        let masks = host.then(|| HostMasks::new(0));
        let mut model = Some(SermoNetConfig::paper().init(&device).with_host_masks(masks));
        let mut optim = SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
            ))
            .with_weight_decay(Some(WeightDecayConfig::new(1e-4)))
            .init();
        let inputs = Tensor::<4>::random([16, 1, 40, 282], Distribution::Normal(0.0, 1.0), &device);
        let labels: Vec<i64> = (0..16).map(|i| i % 8).collect();
        let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [16]), &device);
        let masks = if host { "host" } else { "burn" };
        c.bench_function(
            &format!("train step batch 16 (flex, {masks} dropout masks)"),
            |b| {
                b.iter(|| {
                    let m = model.take().unwrap();
                    let out = m.forward_classification(Batch {
                        inputs: inputs.clone(),
                        targets: targets.clone(),
                    });
                    let grads = GradientsParams::from_grads(out.loss.backward(), &m);
                    model = Some(optim.step(0.01, m, grads));
                    out.loss.into_data()
                })
            },
        );
    }
}

/// Forward + backward (of the output's sum) of the parts of a training step, batch 16, on the
/// flex autodiff device with host dropout masks: one CNN block and its first two stages op by
/// op, the second convolution written as unfold + matmul (the form the issue asked to compare),
/// the Transformer branch and one encoder layer's parts.
fn train_step_parts(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    device.seed(0);
    let model = SermoNetConfig::paper()
        .init(&device)
        .with_host_masks(Some(HostMasks::new(0)));
    let normal = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<4>::random([16, 1, 40, 282], normal, &device);
    let block = &model.conv2d_block1;
    // Inputs of the inner parts: detached, so each timing covers its part only.
    let leaf = |t: Tensor<4>| t.detach().require_grad();
    let conv1_out = leaf(block.conv1.forward(x.clone())); // [16, 16, 40, 282]
    let stage1_out = leaf(
        block.dropout.forward(
            block
                .bn1
                .forward_relu_max_pool(conv1_out.clone(), &block.pool1),
        ),
    ); // [16, 16, 20, 141]
    let conv2_out = leaf(block.conv2.forward(stage1_out.clone())); // [16, 32, 20, 141]
    let sequence = model
        .transformer_maxpool
        .forward(x.clone())
        .squeeze_dim::<3>(1)
        .swap_dims(1, 2); // [16, 70, 40]
    let layer = &model.transformer_encoder.layers[0];
    let hidden = layer
        .linear1
        .forward(sequence.clone())
        .detach()
        .require_grad(); // [16, 70, 512]

    let mut part = |name: &str, f: &dyn Fn() -> Tensor<1>| {
        c.bench_function(&format!("part: {name} (fwd+bwd, batch 16)"), |b| {
            b.iter(|| f().backward())
        });
    };
    part("whole network", &|| model.forward(x.clone()).sum());
    part("one CNN block", &|| block.forward(x.clone()).sum());
    part("conv1 1→16", &|| convolve(&block.conv1, x.clone()).sum());
    part("conv1 1→16, burn's conv2d", &|| {
        block.conv1.forward(x.clone()).sum()
    });
    part("bn1 16 × 40 × 282", &|| {
        block.bn1.forward(conv1_out.clone()).sum()
    });
    part("relu1", &|| relu(conv1_out.clone()).sum());
    part(
        "bn1 → relu → pool1 (one kernel with cpu-kernels)",
        &|| {
            block
                .bn1
                .forward_relu_max_pool(conv1_out.clone(), &block.pool1)
                .sum()
        },
    );
    part("pool1 2×2", &|| {
        block.pool1.forward(conv1_out.clone()).sum()
    });
    part("pool1 + dropout1", &|| {
        block
            .dropout
            .forward(block.pool1.forward(conv1_out.clone()))
            .sum()
    });
    part("conv2 16→32", &|| {
        convolve(&block.conv2, stage1_out.clone()).sum()
    });
    part("conv2 16→32, burn's conv2d", &|| {
        block.conv2.forward(stage1_out.clone()).sum()
    });
    part("bn2 32 × 20 × 141", &|| {
        block.bn2.forward(conv2_out.clone()).sum()
    });
    part("Transformer branch (4 layers)", &|| {
        model.transformer_encoder.forward(sequence.clone()).sum()
    });
    part("encoder layer", &|| layer.forward(sequence.clone()).sum());
    part("self-attention", &|| {
        layer.self_attn.forward(sequence.clone()).sum()
    });
    part("feed-forward linear1 40→512", &|| {
        layer.linear1.forward(sequence.clone()).sum()
    });
    part("feed-forward dropout", &|| {
        layer.dropout.forward(hidden.clone()).sum()
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = inference, train_step, train_step_parts
}
criterion_main!(benches);
