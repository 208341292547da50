//! Names the commit and the target `we --version` reports.

use std::process::Command;

/// The output of `git ARGS` in the crate's directory, if git answers.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    let commit = std::env::var("CODEB_COMMIT").ok().or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    println!("cargo:rustc-env=CODEB_COMMIT={}", commit.as_deref().unwrap_or("unknown commit"));
    println!("cargo:rustc-env=CODEB_TARGET={}", std::env::var("TARGET").unwrap_or_default());
    println!("cargo:rerun-if-env-changed=CODEB_COMMIT");
    for dir in
        [git(&["rev-parse", "--absolute-git-dir"]), git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])]
            .into_iter()
            .flatten()
    {
        for watched in ["HEAD", "refs/heads", "packed-refs"] {
            let path = std::path::Path::new(&dir).join(watched);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}
