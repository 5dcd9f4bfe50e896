//! `cargo xtask demo [--port P]` serves the browser demo; `cargo xtask test` runs every test;
//! `cargo xtask test-gpu` (opt-in, not part of CI) checks the GPU trainer (gpu.rs).
//! They install what they need (rustup target and components, Debian packages, npm packages)
//! and say what they are doing.

mod gpu;
mod serve;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub(crate) fn say(what: &str) {
    eprintln!("\x1b[1;34mxtask\x1b[0m {what}");
}

/// Runs a command in the repository root, failing with its name if it fails.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<()> {
    run_with(program, args, &[])
}

/// As [`run`], with extra environment variables.
pub(crate) fn run_with(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    say(&format!("$ {program} {}", args.join(" ")));
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .status()
        .with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    // Per-step times, so a slow CI run says where its minutes went.
    say(&format!(
        "{program} {} took {:.0} s",
        args.first().copied().unwrap_or(""),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Debian packages, each installed unless its probe (a path or a program) is present.
pub(crate) fn ensure_apt(packages: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(_, probe)| !Path::new(probe).exists() && !have(probe))
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}

/// Installs Debian packages with apt-get (as root, or with sudo).
pub(crate) fn apt_install(packages: &[&str]) -> Result<()> {
    say(&format!(
        "installing Debian packages: {}",
        packages.join(" ")
    ));
    let sudo = if have("id")
        && String::from_utf8_lossy(&Command::new("id").arg("-u").output()?.stdout).trim() != "0"
    {
        vec!["sudo"]
    } else {
        vec![]
    };
    let mut update: Vec<&str> = sudo.clone();
    update.extend(["apt-get", "update", "-qq"]);
    run(update[0], &update[1..])?;
    let mut install: Vec<&str> = sudo;
    install.extend(["apt-get", "install", "-y", "-qq", "--no-install-recommends"]);
    install.extend(packages);
    run(install[0], &install[1..])
}

fn ensure_rust() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if !installed
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-unknown-unknown"))
    {
        run("rustup", &["target", "add", "wasm32-unknown-unknown"])?;
    }
    for component in ["rustfmt", "clippy"] {
        let probe = if component == "rustfmt" {
            "cargo-fmt"
        } else {
            "cargo-clippy"
        };
        if !have(probe) {
            run("rustup", &["component", "add", component])?;
        }
    }
    Ok(())
}

fn web_ready() -> bool {
    root().join("web/build.sh").is_file()
}

/// Builds the wasm, the npm package and the demo's assets (web/build.sh).
fn build_web() -> Result<()> {
    ensure_rust()?;
    run("bash", &["web/build.sh"])
}

/// A command running in the background, its output in a log file under target/; stopped if
/// dropped before [`Background::wait`] (an earlier step failed).
struct Background {
    what: String,
    child: std::process::Child,
    log: PathBuf,
    started: Instant,
    waited: bool,
}

impl Drop for Background {
    fn drop(&mut self) {
        if !self.waited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Background {
    /// Starts `program args` in the repository root with `env` added, its stdout and stderr
    /// going to target/`log`.
    fn start(program: &str, args: &[&str], env: &[(&str, &str)], log: &str) -> Result<Self> {
        let what = format!("{program} {}", args.join(" "));
        let log = root().join("target").join(log);
        std::fs::create_dir_all(root().join("target"))?;
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        say(&format!("$ {what} > {} (in the background)", log.display()));
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdout(out.try_clone()?)
            .stderr(out)
            .current_dir(root())
            .spawn()
            .with_context(|| format!("starting {what}"))?;
        Ok(Self {
            what,
            child,
            log,
            started: Instant::now(),
            waited: false,
        })
    }

    /// Waits for it; a failure prints its whole log (CI's log is where a failure is read).
    fn wait(mut self) -> Result<()> {
        let waiting = Instant::now();
        let status = self
            .child
            .wait()
            .with_context(|| format!("waiting for {}", self.what))?;
        self.waited = true;
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        if !status.success() {
            eprintln!("{text}");
            bail!(
                "`{}` failed ({status}); its output: {}",
                self.what,
                self.log.display()
            );
        }
        // What it cost the run is the wait (its own duration is in its log, where it says).
        say(&format!(
            "{} done (started {:.0} s ago); waited {:.0} s for it (output in {})",
            self.what,
            self.started.elapsed().as_secs_f64(),
            waiting.elapsed().as_secs_f64(),
            self.log.display()
        ));
        Ok(())
    }
}

fn npm_install() -> Result<()> {
    if !have("node") || !have("npm") {
        ensure_apt(&[("nodejs", "node"), ("npm", "npm")])?;
    }
    run("npm", &["ci", "--prefix", "web", "--no-audit", "--no-fund"])
}

fn test() -> Result<()> {
    let started = Instant::now();
    ensure_rust()?;
    run("cargo", &["fmt", "--all", "--check"])?;
    // The wasm32 builds (sermo-dsp and sermo-model inside both sermo-wasm modules, in their own
    // target directory) run beside clippy and the tests: those leave a core idle for long
    // stretches (single crates such as burn-flex compiling alone).
    let web = Background::start("bash", &["web/build.sh"], &[], "web-build.log")?;
    // One clippy pass also checks the GPU trainer (it cannot run here, it must build): with
    // `wgpu`, which compiles everything of `vulkan` but cubecl's SPIR-V compiler (about 110 s of
    // check work; `vulkan` differs only in the device constructor trainer/src/backend.rs calls).
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--features",
            "sermo/wgpu",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run("cargo", &["test", "--workspace", "--no-run"])?;
    web.wait()?;
    // The npm package and the browser tests (one Chromium at a time) run beside the Rust tests'
    // run: each keeps about one core busy. They compare the page with target/debug/sermo,
    // which `cargo test` just built with the workspace's features (`cargo build -p sermo` alone
    // would resolve other features and rebuild half of burn).
    let browser = start_browser_tests()?;
    run("cargo", &["test", "--workspace"])?;
    browser.wait()?;
    say(&format!(
        "all tests passed in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// What the browser tests need: Chromium (Debian's) and the npm packages of web/.
fn browser_test_setup() -> Result<()> {
    if !web_ready() {
        bail!("web/build.sh is missing");
    }
    ensure_apt(&[("chromium", "/usr/bin/chromium")])?;
    npm_install()
}

/// The browser tests against target/debug/sermo, in the background (output in
/// target/browser-tests.log).
fn start_browser_tests() -> Result<Background> {
    browser_test_setup()?;
    Background::start(
        "node",
        &["web/tests/run-all.mjs"],
        &[("SERMO_BIN", &native_cli())],
        "browser-tests.log",
    )
}

/// The native CLI the browser tests compare the page with (`SERMO_BIN`).
fn native_cli() -> String {
    root()
        .join("target/debug/sermo")
        .to_string_lossy()
        .into_owned()
}

/// `cargo xtask test-web`: the wasm package, the native CLI the browser tests compare with,
/// and the browser tests in headless Chromium.
fn browser_tests() -> Result<()> {
    browser_test_setup()?;
    build_web()?;
    run("cargo", &["build", "-p", "sermo"])?;
    run_with(
        "node",
        &["web/tests/run-all.mjs"],
        &[("SERMO_BIN", &native_cli())],
    )
}

fn demo(port: u16) -> Result<()> {
    if !web_ready() {
        bail!("the browser demo is not part of this checkout yet (web/build.sh is missing)");
    }
    build_web()?;
    serve::serve(&root().join("web"), port)
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("test-web") => browser_tests(),
        Some("test-gpu") => gpu::test_gpu(),
        Some("demo") => {
            let port = args
                .iter()
                .position(|a| a == "--port")
                .and_then(|i| args.get(i + 1))
                .map(|p| p.parse::<u16>().context("--port takes a number"))
                .transpose();
            port.and_then(|p| demo(p.unwrap_or(8080)))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask demo [--port P]   build the wasm package and serve the browser demo\n       \
                 cargo xtask test                 run every test (fmt, clippy, unit, end-to-end, wasm32, browser)\n       \
                 cargo xtask test-web             only the npm package and the browser tests\n       \
                 cargo xtask test-gpu             the GPU build: backend parity and a short training on wgpu (not in CI)"
            );
            Err(anyhow::anyhow!("unknown command"))
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
