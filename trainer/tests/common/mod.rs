//! What the CLI's end-to-end tests share: running the `sermo` binary and checking it succeeded.
#![allow(dead_code, clippy::panic)]

use std::process::{Command, Output};

/// The `sermo` binary cargo built for these tests.
pub fn sermo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sermo"))
}

/// `out`, after checking the command succeeded; its stdout and stderr otherwise.
pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "sermo failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
