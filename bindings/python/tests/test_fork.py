"""A child made by fork() (multiprocessing's default on Linux) gets a working codeb.

The parent's runtime threads do not survive a fork; the child must build its
own instead of hanging on the parent's.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import sys
from collections.abc import Callable

import codeb


def run_in_child(work: Callable[[], None]) -> int:
    """Forks, runs `work()` in the child with a 20 s alarm, and returns the child's exit status."""
    pid = os.fork()
    if pid == 0:  # the child
        signal.alarm(20)
        code = 1
        try:
            work()
            code = 0
        except BaseException as e:  # noqa: BLE001 - reported through the exit status and stderr
            print(f"child failed: {e!r}", file=sys.stderr)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def test_a_forked_child_makes_blocking_calls(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")  # the parent's runtime is running

    def child() -> None:
        assert [r.id for r in platform.releases("shop", "staging")] == ["v1"]
        assert platform.deploy(project, "staging").release == "v2"

    assert run_in_child(child) == 0, "the child finished its calls (a hang ends by SIGALRM)"
    assert [r.id for r in platform.releases("shop", "staging")] == ["v1"], "the child had its own copy"


def test_a_forked_child_awaits_async_calls(project: pathlib.Path) -> None:
    async def deploy() -> str:
        report = await codeb.AsyncPlatform.memory().deploy(project, "staging")
        return report.release

    assert asyncio.run(deploy()) == "v1"

    def child() -> None:
        assert asyncio.run(deploy()) == "v1"

    assert run_in_child(child) == 0
