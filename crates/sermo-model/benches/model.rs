//! Speed of the network on the CPU (burn flex): single-clip and batch-64 inference, and one
//! training step of the paper's recipe (batch 16, SGD momentum 0.9, weight decay 1e-4).
//! The PyTorch side of the comparison: bench/pytorch_infer.py and bench/pytorch_train_step.py.

#![allow(clippy::unwrap_used)]

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use criterion::{Criterion, criterion_group, criterion_main};
use sermo_model::SermoNetConfig;
use sermo_model::dropout::HostMasks;
use sermo_model::train::Batch;

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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = inference, train_step
}
criterion_main!(benches);
