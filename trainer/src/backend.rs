//! Which burn device the CLI runs on. The model code is the same for every backend; only the
//! device differs, chosen at run time among the backends compiled in (cargo features).

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use sermo_model::{SermoNetConfig, check_training_device};

/// A compute backend selectable with `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// burn's flex CPU backend (always compiled in).
    Cpu,
    /// burn-wgpu on the best GPU adapter (Vulkan with SPIR-V when built with `--features vulkan`).
    Wgpu,
    /// burn-cuda on NVIDIA GPU 0 (build with `--features cuda`).
    Cuda,
}

impl Backend {
    /// The device for this backend, or an error naming the cargo feature to build with.
    pub fn device(self) -> Result<Device> {
        match self {
            #[cfg(feature = "cpu")]
            Backend::Cpu => Ok(Device::flex()),
            #[cfg(feature = "vulkan")]
            Backend::Wgpu => Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(all(feature = "wgpu", not(feature = "vulkan")))]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[allow(unreachable_patterns)]
            other => bail!(
                "backend {other:?} is not compiled into this sermo; rebuild with `--features {}`",
                match other {
                    Backend::Cpu => "cpu",
                    Backend::Wgpu => "wgpu (or vulkan)",
                    Backend::Cuda => "cuda",
                }
            ),
        }
    }

    /// The devices numbered `indices` (`--devices`). `[0]`, the default, is the backend's
    /// default device; a longer list names devices by index (GPUs: discrete GPU i, CUDA device
    /// i), so that `0,1` never picks one GPU twice. The CPU backend has one device, 0. A device
    /// listed twice gets two shards of each batch (how the tests run the data-parallel path on
    /// the CPU).
    pub fn devices(self, indices: &[usize]) -> Result<Vec<Device>> {
        match indices {
            [] => bail!("--devices needs at least one device index"),
            [0] => Ok(vec![self.device()?]),
            _ => indices.iter().map(|&i| self.device_numbered(i)).collect(),
        }
    }

    /// The devices numbered `indices`, each checked to compute what training `model` at
    /// `batch_size` needs before any work is done: a device that sums wrongly would train a
    /// useless model (see `sermo_model::check_training_device`).
    pub fn training_devices(
        self,
        indices: &[usize],
        model: &SermoNetConfig,
        batch_size: usize,
    ) -> Result<Vec<Device>> {
        let devices = self.devices(indices)?;
        // Each device runs its shard of every batch.
        let shard = batch_size.div_ceil(devices.len());
        for (device, index) in devices.iter().zip(indices) {
            check_training_device(model, device, shard).with_context(|| {
                format!("{} device {index} cannot train this network", self.name())
            })?;
        }
        Ok(devices)
    }

    fn device_numbered(self, index: usize) -> Result<Device> {
        match (self, index) {
            (Backend::Cpu, 0) => self.device(),
            (Backend::Cpu, _) => {
                bail!("the cpu backend has one device, 0 (it uses every core already)")
            }
            #[cfg(feature = "vulkan")]
            (Backend::Wgpu, i) => Ok(Device::vulkan(burn::tensor::DeviceKind::DiscreteGpu(i))),
            #[cfg(all(feature = "wgpu", not(feature = "vulkan")))]
            (Backend::Wgpu, i) => Ok(Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(i))),
            #[cfg(feature = "cuda")]
            (Backend::Cuda, i) => Ok(Device::cuda(i)),
            #[allow(unreachable_patterns)]
            (other, _) => other.device(),
        }
    }

    /// Name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu (flex)",
            Backend::Wgpu if cfg!(feature = "vulkan") => "wgpu (vulkan)",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }
}
