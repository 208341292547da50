#!/usr/bin/env python3
"""What the Python bindings add: per-call round trips and whole deploys on Platform.memory().

Run from the repository root, with a release build of the package installed:

    (cd bindings/python && maturin build --release --out /tmp/codeb-wheels) && pip install /tmp/codeb-wheels/codeb-*.whl
    python bindings/python/benchmarks/overhead.py

Compare the deploy figures with `cargo bench -p codeb --bench engine` (the
same deploys driven from Rust): the difference is the bindings' own cost.
"""

from __future__ import annotations

import asyncio
import pathlib
import statistics
import tempfile
import time
from collections.abc import Callable

import codeb

CALLS = 5_000
DEPLOYS = 1_000


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return (
        f"mean {statistics.fmean(samples) * 1e6:8.1f} µs  p50 {pct(0.5) * 1e6:8.1f} µs  "
        f"p90 {pct(0.9) * 1e6:8.1f} µs  p99 {pct(0.99) * 1e6:8.1f} µs  max {ordered[-1] * 1e6:8.1f} µs"
    )


def timed(n: int, call: Callable[[int], object]) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - started)
    return samples


def project(root: pathlib.Path) -> pathlib.Path:
    (root / "codeb.toml").write_text(
        'name = "bench"\nimage = "localhost/bench:v1"\nport = 8080\n\n'
        '[healthcheck]\npath = "/"\ninterval = "10ms"\n\n'
        '[environments.staging]\ndomains = ["bench.codeb.test"]\n'
    )
    return root


async def async_calls(platform: codeb.AsyncPlatform, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await platform.ssot_status()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = project(pathlib.Path(tmp))
        images = ["localhost/bench:v1", "localhost/bench:v2"]

        blocking = codeb.Platform.memory()
        print(
            f"ssot_status(), blocking, {CALLS} calls:        {summary(timed(CALLS, lambda i: blocking.ssot_status()))}"
        )
        asynchronous = codeb.AsyncPlatform.memory()
        samples = asyncio.run(async_calls(asynchronous, CALLS))
        print(f"ssot_status(), awaited, {CALLS} calls:         {summary(samples)}")

        platform = codeb.Platform.memory()
        samples = timed(DEPLOYS, lambda i: platform.deploy(app, "staging", image=images[i % 2]))
        print(f"deploy, no progress, {DEPLOYS} deploys:        {summary(samples)}")

        platform = codeb.Platform.memory()
        events: list[codeb.DeployEvent] = []
        samples = timed(DEPLOYS, lambda i: platform.deploy(app, "staging", image=images[i % 2], progress=events.append))
        print(
            f"deploy, progress callable, {DEPLOYS} deploys:  {summary(samples)}  ({len(events) // DEPLOYS} events each)"
        )


if __name__ == "__main__":
    main()
