#!/usr/bin/env python3
"""Plan, apply and check a deploy from asyncio with codeb.AsyncPlatform.

    python examples/python/deploy_async.py examples/hello --env staging
    python examples/python/deploy_async.py examples/hello --env staging --memory

Every AsyncPlatform method returns a coroutine, and the work runs on
codeb's own threads, so the event loop stays free. Progress events arrive on
one of those threads: this script hands them to the loop with
`call_soon_threadsafe` and prints them from a task.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import codeb


async def print_events(queue: asyncio.Queue[codeb.DeployEvent | None]) -> None:
    while (event := await queue.get()) is not None:
        if event.kind == "step_finished":
            print(f"  {event.step} ({event.elapsed_ms} ms)")
        elif event.kind == "route_switched":
            print(f"  routed {event.host}")


async def run(args: argparse.Namespace) -> int:
    platform = codeb.AsyncPlatform.memory() if args.memory else codeb.AsyncPlatform.from_config(args.config)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[codeb.DeployEvent | None] = asyncio.Queue()

    def forward(event: codeb.DeployEvent) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    plan = await platform.deploy(args.path, args.env, dry_run=True)
    print(f"plan: {plan}")
    for change in plan.changes:
        print(f"  {change.kind} {change.details}")

    printer = asyncio.ensure_future(print_events(queue))
    try:
        # Exactly the reviewed plan runs; if the SSOT moved since, this is ConflictError: plan again.
        report = await platform.apply(plan, progress=forward)
    finally:
        loop.call_soon_threadsafe(queue.put_nowait, None)
        await printer

    releases, health = await asyncio.gather(
        platform.releases(report.project, report.env), platform.health_check(report.project, report.env)
    )
    print(f"{report.project}/{report.env}: {report.release} serves on port {report.port}")
    print(f"  health: {'healthy' if health.healthy else 'unhealthy'} ({health.evidence})")
    print(f"  releases: {', '.join(f'{r.id} {r.status}' for r in releases)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="the project directory (holding codeb.toml)")
    parser.add_argument("--env", default="staging", help="staging, production or preview-<id>")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", help="the platform file (default: as `we` finds it)")
    source.add_argument("--memory", action="store_true", help="deploy to a platform in memory")
    args = parser.parse_args()
    try:
        return asyncio.run(run(args))
    except codeb.errors.CodebError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
