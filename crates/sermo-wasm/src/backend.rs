//! Which burn device the browser runs the network on: WebGPU when the page can have it, burn's
//! Flex CPU backend otherwise.
//!
//! The package ships two builds of this crate: the CPU module (feature `cpu`: flex only) that
//! every page loads, and the WebGPU module (feature `webgpu`: burn-wgpu only) that the worker
//! fetches only when WebGPU is to be used. A build has the backends of its features; asking
//! one for a backend it lacks is an error that names the other module.
//!
//! WebGPU is set up asynchronously (the synchronous setup panics in a browser by design) and
//! once per Worker: the runtime registers one device per adapter selector, so later
//! classifiers reuse the first one's device.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

/// The backend a caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// WebGPU when an adapter is available and works, else the CPU. The default.
    Auto,
    /// WebGPU or an error.
    WebGpu,
    /// burn's Flex CPU backend (WebAssembly SIMD).
    Cpu,
}

impl FromStr for Preference {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Self::Auto),
            "webgpu" | "gpu" => Ok(Self::WebGpu),
            "cpu" | "flex" | "wasm" => Ok(Self::Cpu),
            other => Err(format!(
                "unknown backend {other:?}: expected \"auto\", \"webgpu\" or \"cpu\""
            )),
        }
    }
}

impl Preference {
    /// `"auto"`, `"webgpu"` or `"cpu"`: the names [`Preference::from_str`] reads back.
    pub fn name(self) -> &'static str {
        match self {
            Preference::Auto => "auto",
            Preference::WebGpu => "webgpu",
            Preference::Cpu => "cpu",
        }
    }
}

/// The backend a classifier ended up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The browser's WebGPU through burn's wgpu runtime (WGSL kernels).
    WebGpu,
    /// burn's Flex CPU backend compiled to WebAssembly.
    Cpu,
}

impl Backend {
    /// `"webgpu"` or `"cpu"`, as the JavaScript API reports it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::WebGpu => "webgpu",
            Backend::Cpu => "cpu",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The CPU device, or why this build has none.
pub fn cpu() -> Result<Device, String> {
    #[cfg(feature = "cpu")]
    {
        Ok(Device::flex())
    }
    #[cfg(not(feature = "cpu"))]
    {
        Err(
            "this is sermo's WebGPU module, built without the CPU backend (the CPU module has it)"
                .into(),
        )
    }
}

/// A WebGPU device and a description of its adapter.
#[derive(Clone)]
pub struct Gpu {
    /// The burn device on the browser's WebGPU.
    pub device: Device,
    /// The adapter's description as the browser reports it, and whether it is a software
    /// fallback adapter.
    pub adapter: String,
    /// A software (fallback) adapter, such as SwiftShader: WebGPU emulated on the CPU, far
    /// slower than the CPU backend.
    pub software: bool,
}

#[cfg(all(target_arch = "wasm32", feature = "webgpu"))]
mod web {
    use std::cell::RefCell;

    use burn::tensor::Device;
    use burn::tensor::wgpu::{WgpuBackend, WgpuInitError};
    use js_sys::Reflect;
    use wasm_bindgen::JsValue;

    use super::Gpu;

    thread_local! {
        static GPU: RefCell<Option<Gpu>> = const { RefCell::new(None) };
    }

    /// Whether `navigator.gpu` exists in this global scope (a window or a worker).
    fn has_navigator_gpu() -> bool {
        let global = js_sys::global();
        Reflect::get(&global, &JsValue::from_str("navigator"))
            .ok()
            .filter(|n| !n.is_undefined() && !n.is_null())
            .and_then(|n| Reflect::get(&n, &JsValue::from_str("gpu")).ok())
            .is_some_and(|g| !g.is_undefined() && !g.is_null())
    }

    /// Sets WebGPU up once per Worker; later calls return the same device.
    ///
    /// `requestAdapter()` is asked twice before giving up: headless Chromium's software
    /// adapter has been seen to answer `null` once and an adapter the next time.
    pub async fn webgpu() -> Result<Gpu, String> {
        if let Some(gpu) = GPU.with(|g| g.borrow().clone()) {
            return Ok(gpu);
        }
        if !has_navigator_gpu() {
            return Err("this browser has no WebGPU (navigator.gpu is undefined)".into());
        }
        let mut reason = String::new();
        for _attempt in 0..2 {
            match Device::wgpu_options()
                .graphics_api(WgpuBackend::WebGpu)
                .init_with_setup_async()
                .await
            {
                Ok((device, setup)) => {
                    // In browsers wgpu knows only the description (often empty, for privacy)
                    // and whether this is a fallback (software) adapter.
                    let info = setup.adapter.get_info();
                    let software = info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu;
                    let adapter = match (info.name.trim(), software) {
                        ("", true) => "software fallback adapter".to_string(),
                        ("", false) => "hardware adapter".to_string(),
                        (name, true) => format!("{name}, software fallback adapter"),
                        (name, false) => name.to_string(),
                    };
                    let gpu = Gpu {
                        device,
                        adapter,
                        software,
                    };
                    GPU.with(|g| *g.borrow_mut() = Some(gpu.clone()));
                    return Ok(gpu);
                }
                Err(WgpuInitError::AdapterUnavailable { .. }) => {
                    reason = "navigator.gpu.requestAdapter() found no adapter".into();
                }
                Err(e) => reason = e.to_string(),
            }
        }
        Err(format!("no usable WebGPU adapter: {reason} (asked twice)"))
    }
}

/// Sets WebGPU up (once per Worker) or says why it cannot be had.
#[cfg(all(target_arch = "wasm32", feature = "webgpu"))]
pub async fn webgpu() -> Result<Gpu, String> {
    web::webgpu().await
}

/// Without the `webgpu` feature, or outside a browser, there is no WebGPU.
#[cfg(not(all(target_arch = "wasm32", feature = "webgpu")))]
pub async fn webgpu() -> Result<Gpu, String> {
    Err(if cfg!(feature = "webgpu") {
        "WebGPU exists only in a browser (this is a native build)".into()
    } else {
        "this is sermo's CPU module, built without WebGPU (the WebGPU module has it)".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferences_parse() {
        assert_eq!("auto".parse(), Ok(Preference::Auto));
        assert_eq!("".parse(), Ok(Preference::Auto));
        assert_eq!(" WebGPU ".parse(), Ok(Preference::WebGpu));
        assert_eq!("cpu".parse(), Ok(Preference::Cpu));
        assert!("cuda".parse::<Preference>().is_err());
    }
}
