//! Builds `codeb-envexec` (the workspace crate beside this one) as one static
//! binary into `OUT_DIR`, which the Podman backend embeds and copies into
//! every container that gets secret environment variables: static, so it
//! runs in any image of the target's architecture, even one built FROM scratch.
//!
//! It is std only, so rustc alone builds it (a nested cargo would wait on
//! the lock of the build that runs this script).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let sources = manifest.join("../codeb-envexec/src");
    println!("cargo:rerun-if-changed={}", sources.display());
    let output = PathBuf::from(env("OUT_DIR")).join("codeb-envexec");
    let built = Command::new(env("RUSTC"))
        .args(["--edition", "2024", "--crate-name", "codeb_envexec", "--crate-type", "bin"])
        .args(["--target", &env("TARGET")])
        .args(["-C", "opt-level=z", "-C", "panic=abort", "-C", "strip=symbols"])
        .args(["-C", "target-feature=+crt-static", "-F", "unsafe_code"])
        .arg("-o")
        .arg(&output)
        .arg(sources.join("main.rs"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run rustc to build codeb-envexec: {e}"));
    if !built.status.success() {
        panic!("rustc could not build codeb-envexec ({}):\n{}", built.status, String::from_utf8_lossy(&built.stderr));
    }
}

/// The variable cargo sets for every build script.
fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for a build script"))
}
