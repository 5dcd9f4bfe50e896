#!/usr/bin/env bash
# Builds sermo's two WebAssembly modules and the npm package `sermo` (web/package).
#
#   bash web/build.sh            # release build with WebAssembly SIMD
#
# 1. adds the wasm32-unknown-unknown target if rustup lacks it;
# 2. cargo build -p sermo-wasm --profile wasm-release (size-optimised, LTO; see Cargo.toml)
#    --target wasm32-unknown-unknown, with simd128 enabled, twice: the CPU module (default
#    features: burn's flex backend alone), which every page loads, and the WebGPU module
#    (--no-default-features --features webgpu: burn-wgpu alone), which the package's worker
#    fetches only when WebGPU is used; in their own target directory (target/wasm) so they never
#    wait on the native builds' lock;
# 3. builds tools/bindgen (wasm-bindgen's library at exactly the version of the wasm-bindgen
#    crate) into target/tools/bindgen: its crates are the only thing this script may download;
# 4. wasm-bindgen --target web into web/pkg/ (sermo_cpu.* and sermo_webgpu.*), with the shipped
#    models (models/default.safetensors and models/paper.safetensors) beside them;
# 5. copies web/pkg into web/package/wasm/, which `npm pack` ships.
#
# Only a SIMD build is made: every browser with AudioWorklet and module workers that sermo
# targets (Chrome/Edge 91+, Firefox 89+, Safari 16.4+) runs WebAssembly SIMD, and burn's Flex
# CPU kernels lean on it. A browser without it gets a clear "unsupported" message from the
# package instead of a second, slower build that would double the build time and the package.
#
# Environment: SERMO_WASM_TARGET_DIR overrides target/wasm; CARGO_BUILD_JOBS limits the jobs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
TARGET=wasm32-unknown-unknown
target_dir="${SERMO_WASM_TARGET_DIR:-$root/target/wasm}"
tools="$root/target/tools"
models="default paper" # models/NAME.safetensors, bundled under their names

step() { printf '\n==> %s\n' "$*" >&2; }

if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  step "rustup target add $TARGET"
  rustup target add "$TARGET"
fi

# locked_version LOCKFILE CRATE: the version of CRATE in a Cargo.lock.
locked_version() { grep -A1 "^name = \"$2\"\$" "$1" | sed -n 's/^version = "\(.*\)"$/\1/p'; }
# Checked before the long builds: the glue must come from exactly the wasm-bindgen that
# sermo-wasm links.
linked=$(locked_version "$root/Cargo.lock" wasm-bindgen)
support=$(locked_version "$root/tools/bindgen/Cargo.lock" wasm-bindgen-cli-support)
if [ -z "$linked" ] || [ "$linked" != "$support" ]; then
  echo "error: sermo-wasm links wasm-bindgen '$linked' but tools/bindgen pins wasm-bindgen-cli-support '$support': make them equal (tools/bindgen/Cargo.toml, then cargo update there)" >&2
  exit 1
fi

# build NAME [cargo options]: one module, kept as $target_dir/sermo_NAME.wasm (both builds write
# sermo_wasm.wasm).
build() {
  local name="$1"
  shift
  step "cargo build -p sermo-wasm --profile wasm-release --target $TARGET $* (simd128): the $name module"
  (
    cd "$root"
    CARGO_TARGET_DIR="$target_dir" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
      cargo build -p sermo-wasm --profile wasm-release --target "$TARGET" "$@"
  )
  cp "$target_dir/$TARGET/wasm-release/sermo_wasm.wasm" "$target_dir/sermo_$name.wasm"
}
modules="cpu webgpu"
build cpu
build webgpu --no-default-features --features webgpu

bindgen="$tools/bindgen/release/sermo-bindgen"
step "cargo build tools/bindgen (wasm-bindgen $linked's library, built once per checkout)"
# Its own workspace and lock file; the release profile there optimises only the crates that
# rewrite the module (tools/bindgen/Cargo.toml).
(
  unset CARGO_TARGET_DIR
  cargo build --release --locked --manifest-path "$root/tools/bindgen/Cargo.toml" \
    --target-dir "$tools/bindgen"
)

step "wasm-bindgen --target web -> web/pkg"
rm -rf "$here/pkg"
for module in $modules; do
  "$bindgen" "$target_dir/sermo_$module.wasm" "$here/pkg" "sermo_$module"
done
for name in $models; do
  if [ ! -f "$root/models/$name.safetensors" ]; then
    echo "error: $root/models/$name.safetensors is missing: the package bundles it" >&2
    exit 1
  fi
  cp "$root/models/$name.safetensors" "$here/pkg/"
done

step "web/pkg -> web/package/wasm"
rm -rf "$here/package/wasm"
mkdir -p "$here/package/wasm"
files=""
for module in $modules; do
  files="$files sermo_${module}_bg.wasm sermo_$module.js"
  cp "$here/pkg/sermo_$module.js" "$here/pkg/sermo_${module}_bg.wasm" "$here/pkg/sermo_$module.d.ts" \
     "$here/package/wasm/"
done
for name in $models; do cp "$here/pkg/$name.safetensors" "$here/package/wasm/"; done

size() { stat -c %s "$1"; }
gz() { gzip -9 -c "$1" | wc -c; }
for f in $files default.safetensors paper.safetensors; do
  printf '%-24s %9d bytes (gzip -9: %d)\n' "$f" "$(size "$here/package/wasm/$f")" "$(gz "$here/package/wasm/$f")" >&2
done
step "done: serve web/ and open /demo/ (cargo xtask demo), or npm pack web/package"
echo "web/build.sh took $SECONDS s" >&2
