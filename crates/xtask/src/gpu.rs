//! `cargo xtask test-gpu`: the GPU trainer, built and run, against the CPU trainer.
//!
//! Opt-in (not part of `cargo xtask test` or CI): compiling burn's GPU stack takes about 20
//! minutes on a 2-core machine. It runs on any Vulkan device; where there is none it installs
//! Mesa's software device (lavapipe), slow but a real Vulkan driver, which is how this path is
//! kept working on machines without a GPU. Steps:
//! 1. the backend parity tests (trainer/tests/backend_parity.rs): layer by layer and one whole
//!    training step, wgpu against flex;
//! 2. the same two-epoch training on a synthetic dataset with `--backend wgpu` and `--backend
//!    cpu`: the wgpu run's validation and test accuracies must be within [`MAX_GAP_POINTS`] of
//!    the CPU's (issue 29: a wgpu run once trained to 80 % on its training set while its saved
//!    model stayed at chance). At batch 16, the trainer's default, or at 4 where the trainer
//!    refuses 16 on this device (lavapipe: see `sermo_model::check_training_device`).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{apt_install, ensure_apt, root, run, say};

/// The largest accuracy gap, in percentage points, between the wgpu and the CPU run.
const MAX_GAP_POINTS: f64 = 10.0;
/// The trainer's default batch, tried first on the GPU.
const TRAINING_BATCH: usize = 16;
/// The batch both runs use where the device refuses [`TRAINING_BATCH`].
const SMALL_BATCH: usize = 4;

/// Cargo's arguments for the GPU build: the whole workspace, as `cargo test --workspace`
/// resolves it, plus the trainer's `wgpu` feature (WGSL kernels: every Vulkan driver runs them).
const GPU_FEATURES: [&str; 3] = ["--workspace", "--features", "sermo/wgpu"];

pub fn test_gpu() -> Result<()> {
    ensure_vulkan()?;
    let mut test = vec!["test"];
    test.extend(GPU_FEATURES);
    test.extend(["--test", "backend_parity"]);
    // This also builds target/debug/sermo with the GPU feature (an integration test's package's
    // binaries are built with it): a separate `cargo build` would resolve other features and
    // compile burn a second time.
    run("cargo", &test)?;

    let sermo = root().join("target/debug/sermo");
    let work = std::env::temp_dir().join(format!("sermo-test-gpu-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let data = work.join("data");
    run(&path_str(&sermo), &["synth", "-o", &path_str(&data)])?;
    let train = |backend: &str, batch: usize| -> Result<bool> {
        say(&format!("two epochs on {backend} at batch {batch}"));
        let out = work.join(format!("{backend}-batch{batch}"));
        let batch = batch.to_string();
        let status = Command::new(&sermo)
            .args([
                "train",
                "--protocol",
                "paper",
                "--epochs",
                "2",
                "--seed",
                "0",
            ])
            .args(["--backend", backend, "--batch-size", &batch])
            .arg("--data")
            .arg(&data)
            .arg("--cache-root")
            .arg(work.join("cache"))
            .arg("--out")
            .arg(&out)
            .status()
            .context("starting sermo train")?;
        Ok(status.success())
    };
    // The trainer refuses, before any work, a device that cannot sum a batch of 16's channels
    // exactly (llvmpipe: see sermo_model::check_training_device); then both runs use batch 4.
    let batch = if train("wgpu", TRAINING_BATCH)? {
        TRAINING_BATCH
    } else {
        say(&format!(
            "wgpu refused batch {TRAINING_BATCH} (above); comparing at batch {SMALL_BATCH}"
        ));
        if !train("wgpu", SMALL_BATCH)? {
            bail!("sermo train --backend wgpu failed at batch {SMALL_BATCH} too");
        }
        SMALL_BATCH
    };
    if !train("cpu", batch)? {
        bail!("sermo train --backend cpu failed");
    }
    let report = |backend: &str| work.join(format!("{backend}-batch{batch}/report.json"));
    let [gpu_valid, gpu_test] = accuracy(&report("wgpu"))?;
    let [cpu_valid, cpu_test] = accuracy(&report("cpu"))?;
    say(&format!(
        "batch {batch}: last epoch's validation: cpu {cpu_valid:.1} %, wgpu {gpu_valid:.1} %; \
         test (best epoch): cpu {cpu_test:.1} %, wgpu {gpu_test:.1} %"
    ));
    if (cpu_valid - gpu_valid).abs() > MAX_GAP_POINTS
        || (cpu_test - gpu_test).abs() > MAX_GAP_POINTS
    {
        bail!(
            "the wgpu run is more than {MAX_GAP_POINTS} points from the cpu run on the same data \
             (runs kept in {})",
            work.display()
        );
    }
    let _ = std::fs::remove_dir_all(&work);
    say("the GPU trainer agrees with the CPU trainer");
    Ok(())
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The last epoch's validation accuracy and the best epoch's test accuracy, in per cent, from
/// a run's report.json.
fn accuracy(report: &Path) -> Result<[f64; 2]> {
    let text =
        std::fs::read_to_string(report).with_context(|| format!("reading {}", report.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", report.display()))?;
    let valid = json["history"]
        .as_array()
        .and_then(|h| h.last())
        .and_then(|e| e["valid_accuracy"].as_f64());
    let test = json["test"]["accuracy"].as_f64();
    match (valid, test) {
        (Some(v), Some(t)) => Ok([100.0 * v, 100.0 * t]),
        _ => bail!("{}: no validation or test accuracy", report.display()),
    }
}

/// A Vulkan loader and at least one driver; Mesa's software driver when the machine has none.
/// Prints the devices the loader sees (the parity tests and the run use the first).
fn ensure_vulkan() -> Result<()> {
    ensure_apt(&[("vulkan-tools", "vulkaninfo")])?;
    let has_driver = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .flatten()
        .any(|entry| entry.path().extension().is_some_and(|e| e == "json"));
    if !has_driver {
        say("no Vulkan driver installed: installing Mesa's (lavapipe, a software device)");
        apt_install(&["mesa-vulkan-drivers"])?;
    }
    let summary = Command::new("vulkaninfo")
        .arg("--summary")
        .output()
        .context("running vulkaninfo")?;
    let devices: Vec<String> = String::from_utf8_lossy(&summary.stdout)
        .lines()
        .filter(|l| l.contains("deviceName") || l.contains("driverName"))
        .map(|l| l.trim().to_string())
        .collect();
    if devices.is_empty() {
        bail!(
            "vulkaninfo lists no Vulkan device:\n{}",
            String::from_utf8_lossy(&summary.stderr)
        );
    }
    say(&format!("Vulkan devices: {}", devices.join("; ")));
    Ok(())
}
