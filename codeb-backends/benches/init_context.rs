//! `we init` and the packing of the build context, side by side, on a
//! generated repository of 100,000 files: a Next.js app whose
//! `node_modules` holds most of them, packed once without an ignore file
//! and once with a `.dockerignore` that leaves out `node_modules`, `.next`,
//! `.git` and `*.log` (what a build needs left in). Each is timed, and each
//! pack's bytes (what is sent to Podman) and files are counted.
//!
//! Run: `cargo bench -p codeb-backends --bench init_context`.
//! `CODEB_BENCH_FILES` sets the number of files (default 100,000),
//! `CODEB_BENCH_RUNS` the measured runs of each (default 5, after one
//! warm-up each); the median is printed. Figures are recorded in
//! docs/benchmarks.md.

use std::path::Path;
use std::time::{Duration, Instant};

use codeb::project::{InitOptions, init};
use codeb_backends::pack_build_context;

const IGNORE: &str = "node_modules\n.next\n.git\n**/*.log\n";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Writes a Next.js app of `files` files under `dir`: 5% sources, 2% build
/// output, 1% git objects, the rest `node_modules`, 200-800 bytes each.
fn generate(dir: &Path, files: usize) {
    let write = |path: &Path, size: usize| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, vec![b'x'; size]).unwrap();
    };
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"bench","scripts":{"build":"next build","start":"next start"},"dependencies":{"next":"15","@prisma/client":"6","ioredis":"5"}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("package-lock.json"), "{}").unwrap();
    std::fs::create_dir_all(dir.join("prisma")).unwrap();
    std::fs::write(dir.join("prisma/schema.prisma"), "datasource db {\n  provider = \"postgresql\"\n}\n").unwrap();
    let written = 3;
    for i in 0..files.saturating_sub(written) {
        let size = 200 + (i * 37) % 600;
        let path = match i % 100 {
            0..5 => dir.join(format!("src/pages/p{}/page{i}.tsx", i % 50)),
            5..7 => dir.join(format!(".next/server/chunks/c{i}.js")),
            7 => dir.join(format!(".git/objects/{:02x}/{i}", i % 256)),
            _ => dir.join(format!("node_modules/pkg{}/lib/d{}/f{i}.js", i % 500, i % 7)),
        };
        write(&path, size);
    }
}

/// The median of `runs` timings of `work` (after one warm-up), and its last result.
fn time<T>(runs: usize, mut work: impl FnMut() -> T) -> (Duration, T) {
    let mut last = work();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        last = work();
        times.push(start.elapsed());
    }
    times.sort();
    (times[times.len() / 2], last)
}

fn main() {
    let (files, runs) = (env_number("CODEB_BENCH_FILES", 100_000), env_number("CODEB_BENCH_RUNS", 5).max(1));
    let repo = tempfile::tempdir().unwrap();
    let started = Instant::now();
    generate(repo.path(), files);
    println!("generated {files} files in {:.1?}; median of {runs} runs each", started.elapsed());

    let dry = InitOptions { force: true, dry_run: true };
    let (took, report) = time(runs, || init(repo.path(), &dry).unwrap());
    println!("we init (analysis, codeb.toml, generated Containerfile)   {took:>10.2?}   {}", report.name);
    let containerfile = report.containerfile.unwrap();

    for (label, ignore) in [("pack, no ignore file", None), ("pack, .dockerignore", Some(IGNORE))] {
        match ignore {
            Some(text) => std::fs::write(repo.path().join(".dockerignore"), text).unwrap(),
            None => {
                let _ = std::fs::remove_file(repo.path().join(".dockerignore"));
            }
        }
        let (took, packed) =
            time(runs, || pack_build_context(repo.path(), "Containerfile", Some(&containerfile)).unwrap());
        let mib = packed.archive.len() as f64 / f64::from(1 << 20);
        println!("{label:<58} {took:>10.2?}   {:>7} files   {mib:>8.1} MiB sent", packed.files);
    }
}
