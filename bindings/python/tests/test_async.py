"""The async twin: the same methods as Platform, awaitable from asyncio, never blocking the event loop."""

from __future__ import annotations

import asyncio
import inspect
import pathlib
import threading
import time

import pytest

import codeb
from codeb import errors


def test_the_twin_has_exactly_the_methods_and_signatures_of_platform() -> None:
    def methods(cls: type) -> dict[str, str | None]:
        return {
            name: getattr(cls, name).__text_signature__
            for name in vars(cls)
            if not name.startswith("_") or name == "__repr__"
        }

    assert methods(codeb.AsyncPlatform) == methods(codeb.Platform)


def test_async_methods_return_coroutines_whose_results_match_the_blocking_ones(project: pathlib.Path) -> None:
    async def scenario() -> None:
        platform = codeb.AsyncPlatform.memory()
        pending = platform.deploy(project, "staging", dry_run=True)
        assert inspect.iscoroutine(pending)
        plan = await pending
        assert isinstance(plan, codeb.Plan) and plan.release == "v1"

        report = await platform.deploy(project, "staging")
        assert isinstance(report, codeb.DeployReport) and report.release == "v1"
        await platform.deploy(project, "staging", image="localhost/shop:v2")
        assert [r.status for r in await platform.releases("shop", "staging")] == ["retired", "live"]
        back = await platform.rollback("shop", "staging")
        assert back.release == "v1"

        version = await platform.env_set("shop", "staging", {"TOKEN": "hidden"}, secret=True)
        listed = await platform.env_list("shop", "staging")
        assert listed.version == version and "hidden" not in repr(listed)

        assert await platform.port_allocate("shop", "staging", "redis") == 16379
        assert len(await platform.port_list(project="shop")) == 2
        assert (await platform.health_check("shop", "staging")).healthy
        assert (await platform.ssot_status()).serving == 1
        assert await platform.lock_status("shop", "staging") is None
        assert (await platform.project_delete("shop")).applied is False
        assert (await platform.project_delete("shop", force=True)).applied is True
        assert await platform.project_list() == []

    asyncio.run(scenario())


def test_many_async_calls_run_concurrently_under_gather(tmp_path: pathlib.Path) -> None:
    from conftest import write_project

    projects = [write_project(tmp_path / f"app{i}", name=f"app{i}", domains=(f"app{i}.codeb.test",)) for i in range(8)]

    async def scenario() -> list[codeb.DeployReport]:
        platform = codeb.AsyncPlatform.memory()
        return await asyncio.gather(*(platform.deploy(p, "staging") for p in projects))

    reports = asyncio.run(scenario())

    assert sorted(r.project for r in reports) == [f"app{i}" for i in range(8)]
    assert len({r.port for r in reports}) == 8


def test_sdk_errors_are_raised_by_the_await_and_bad_input_at_the_call(project: pathlib.Path) -> None:
    async def scenario() -> None:
        platform = codeb.AsyncPlatform.memory()
        with pytest.raises(errors.InvalidError):
            platform.releases("Bad Name", "staging")  # type: ignore[unused-coroutine]
        pending = platform.health_check("ghost", "staging")
        with pytest.raises(errors.NotFoundError) as raised:
            await pending
        assert raised.value.kind == "not_found"

    asyncio.run(scenario())


def test_the_event_loop_keeps_running_while_a_deploy_is_awaited(unhealthy_project: pathlib.Path) -> None:
    # The unhealthy deploy spends about a second probing; a ticker on the same
    # loop must keep ticking the whole time.
    async def scenario() -> tuple[int, float]:
        platform = codeb.AsyncPlatform.memory()
        ticks = 0
        started = time.monotonic()
        deploy = asyncio.create_task(platform.deploy(unhealthy_project, "staging"))
        while not deploy.done():
            await asyncio.sleep(0.01)
            ticks += 1
        with pytest.raises(errors.UnhealthyError):
            await deploy
        return ticks, time.monotonic() - started

    ticks, elapsed = asyncio.run(scenario())

    assert elapsed > 0.5, "the deploy took its health deadline"
    assert ticks > elapsed / 0.01 / 4, f"only {ticks} ticks of 10 ms in {elapsed:.2f} s"


def test_progress_reaches_the_callable_from_an_async_deploy(project: pathlib.Path) -> None:
    events: list[codeb.DeployEvent] = []

    async def scenario() -> None:
        await codeb.AsyncPlatform.memory().deploy(project, "staging", progress=events.append)

    asyncio.run(scenario())

    assert (events[0].kind, events[0].step) == ("step_started", "lock")
    assert any(e.kind == "route_switched" for e in events)


def test_cancelling_the_await_does_not_abandon_the_deploy(project: pathlib.Path) -> None:
    inside, finish = threading.Event(), threading.Event()

    def hold(event: codeb.DeployEvent) -> None:
        if event.kind == "step_started" and event.step == "configure":
            inside.set()
            finish.wait(30)

    async def scenario() -> None:
        platform = codeb.AsyncPlatform.memory()
        deploy = asyncio.ensure_future(platform.deploy(project, "staging", progress=hold))
        assert await asyncio.to_thread(inside.wait, 30)
        deploy.cancel()
        with pytest.raises(asyncio.CancelledError):
            await deploy
        finish.set()
        for _ in range(300):
            if await platform.lock_status("shop", "staging") is None:
                break
            await asyncio.sleep(0.01)
        assert await platform.lock_status("shop", "staging") is None, "the deploy finished and unlocked"
        assert [r.status for r in await platform.releases("shop", "staging")] == ["live"]

    asyncio.run(scenario())


def test_a_coroutine_starts_nothing_until_awaited_even_outside_an_event_loop(project: pathlib.Path) -> None:
    platform = codeb.AsyncPlatform.memory()

    never = platform.deploy(project, "staging")
    never.close()  # dropped unawaited: the deploy never starts

    async def releases() -> list[codeb.Release]:
        return await platform.releases("shop", "staging")

    with pytest.raises(errors.NotFoundError):
        asyncio.run(releases())  # nothing was recorded, and the loop is usable


def test_calls_work_as_task_group_tasks(project: pathlib.Path) -> None:
    async def scenario() -> tuple[codeb.DeployReport, list[codeb.ProjectSummary]]:
        platform = codeb.AsyncPlatform.memory()
        async with asyncio.TaskGroup() as group:
            deploy = group.create_task(platform.deploy(project, "staging"))
        async with asyncio.TaskGroup() as group:
            listing = group.create_task(platform.project_list())
        return deploy.result(), listing.result()

    report, listing = asyncio.run(scenario())
    assert report.release == "v1"
    assert [p.project for p in listing] == ["shop"]


def test_async_platform_is_not_a_coroutine_function_but_returns_awaitables() -> None:
    assert not inspect.iscoroutinefunction(codeb.AsyncPlatform.deploy)
    assert repr(codeb.AsyncPlatform.memory()) == "AsyncPlatform(memory)"


def codeb_threads() -> int:
    """How many of this process's threads are codeb runtime workers (tokio names them "codeb")."""
    tasks = pathlib.Path("/proc/self/task")
    return sum(1 for task in tasks.iterdir() if (task / "comm").read_text().strip() == "codeb")


def test_the_exit_drain_joins_every_runtime_thread_and_a_later_call_starts_a_new_runtime(
    project: pathlib.Path,
) -> None:
    async def deploy() -> codeb.DeployReport:
        return await codeb.AsyncPlatform.memory().deploy(project, "staging")

    assert asyncio.run(deploy()).release == "v1"
    assert codeb_threads() > 0, "the runtime's workers run"

    codeb._codeb._drain()  # what atexit runs
    assert codeb_threads() == 0, "no codeb thread outlives the drain, so none can touch a finalizing interpreter"

    assert codeb.Platform.memory().deploy(project, "staging").release == "v1", "a later call gets a new runtime"

