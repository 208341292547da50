#!/usr/bin/env python3
"""Deploy a project with a progress bar drawn from codeb's deploy events.

    python examples/python/deploy.py examples/hello --env staging             # the platform file, as `we` finds it
    python examples/python/deploy.py examples/hello --env staging --memory    # the whole platform in memory

Needs the codeb package (bindings/python: `maturin develop`). The progress
callable gets each `codeb.DeployEvent` while the deploy runs; this one
redraws one line per step on a terminal and prints one line per step
otherwise.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import codeb

# The engine's steps in the order a deploy takes them (some are skipped when there is nothing to do).
STEPS = [
    "lock",
    "configure",
    "accessories",
    "allocate_ports",
    "image",
    "start_release",
    "health_check",
    "switch_route",
    "dns",
    "stop_previous",
    "record",
    "watch",
]


class ProgressBar:
    """A progress callable for `Platform.deploy`: `[#####-----] 5/12 image`."""

    def __init__(self, out: TextIO = sys.stderr, width: int = 24) -> None:
        self.out = out
        self.width = width
        self.reached = 0
        self.last = ""
        self.redraw = out.isatty()

    def __call__(self, event: codeb.DeployEvent) -> None:
        if event.kind == "step_started" and event.step in STEPS:
            self.reached = max(self.reached, STEPS.index(event.step) + 1)
            self.draw(event.step)
        elif event.kind == "health_probe":
            self.draw(f"health_check: probe {event.attempt} of {event.release}: {event.evidence}")
        elif event.kind == "route_switched":
            self.say(f"routed {event.host} to {', '.join(str(u) for u in event.upstreams or [])}")
        elif event.kind == "step_failed":
            self.say(f"{event.step} failed: {event.error}")
        elif event.kind == "rolled_back":
            self.say(f"rolled back from {event.from_release} to {event.to_release}: {event.reason}")
        elif event.kind == "note":
            self.say(event.message or "")

    def draw(self, label: str) -> None:
        if label == self.last:
            return
        self.last = label
        filled = self.width * self.reached // len(STEPS)
        line = f"[{'#' * filled}{'-' * (self.width - filled)}] {self.reached}/{len(STEPS)} {label}"
        if self.redraw:
            self.out.write(f"\r\x1b[K{line}")
        else:
            self.out.write(f"{line}\n")
        self.out.flush()

    def say(self, text: str) -> None:
        if self.redraw:
            self.out.write("\r\x1b[K")
        self.out.write(f"  {text}\n")
        self.out.flush()

    def finish(self) -> None:
        if self.redraw:
            self.out.write("\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="the project directory (holding codeb.toml)")
    parser.add_argument("--env", default="staging", help="staging, production or preview-<id>")
    parser.add_argument("--image", help="deploy this image instead of the project file's")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", help="the platform file (default: as `we` finds it)")
    source.add_argument("--memory", action="store_true", help="deploy to a platform in memory")
    args = parser.parse_args()

    try:
        platform = codeb.Platform.memory() if args.memory else codeb.Platform.from_config(args.config)
        bar = ProgressBar()
        try:
            report = platform.deploy(args.path, args.env, image=args.image, progress=bar)
        finally:
            bar.finish()
    except codeb.errors.CodebError as e:
        print(f"error: {e}", file=sys.stderr)
        if e.context:
            print("  " + ", ".join(f"{k}={v}" for k, v in e.context.items()), file=sys.stderr)
        return 1
    print(f"{report.project}/{report.env}: {report.release} serves on port {report.port} ({report.elapsed_ms} ms)")
    for domain in report.domains:
        print(f"  http://{domain}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
