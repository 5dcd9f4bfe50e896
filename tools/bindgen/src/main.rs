//! `sermo-bindgen INPUT.wasm OUT_DIR OUT_NAME`: what `wasm-bindgen --target web
//! --remove-name-section --out-dir OUT_DIR --out-name OUT_NAME INPUT.wasm` does, with every other
//! option at the CLI's default, so the output is the same to the byte.

use anyhow::{Context, Result, bail};
use wasm_bindgen_cli_support::Bindgen;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir, out_name] = args.as_slice() else {
        bail!("usage: sermo-bindgen INPUT.wasm OUT_DIR OUT_NAME");
    };
    Bindgen::new()
        .input_path(input)
        .web(true)?
        .typescript(true)
        .omit_default_module_path(false)
        .reference_types(false)
        // The name section (function names for stack traces) is a sixth of a module: dropped.
        .remove_name_section(true)
        .out_name(out_name)
        .generate(out_dir)
        .with_context(|| format!("wasm-bindgen on {input}"))
}
