"""Deploy progress: the engine's events reach a Python callable in order, and blocking calls release the GIL."""

from __future__ import annotations

import pathlib
import sys
import threading

import pytest

import codeb

STEPS_IN_ORDER = [
    "lock",
    "allocate_ports",
    "configure",
    "image",
    "start_release",
    "health_check",
    "switch_route",
    "record",
]


def test_the_progress_callable_receives_the_deploy_events_in_order(
    platform: codeb.Platform, project: pathlib.Path
) -> None:
    events: list[codeb.DeployEvent] = []

    platform.deploy(project, "staging", progress=events.append)

    assert all(isinstance(e, codeb.DeployEvent) for e in events)
    assert (events[0].kind, events[0].step) == ("step_started", "lock")
    started = [e.step for e in events if e.kind == "step_started"]
    first_starts = list(dict.fromkeys(started))
    assert [s for s in first_starts if s in STEPS_IN_ORDER] == STEPS_IN_ORDER
    for step in started:
        begin = next(i for i, e in enumerate(events) if e.kind == "step_started" and e.step == step)
        end = next(i for i, e in enumerate(events) if e.kind == "step_finished" and e.step == step)
        assert begin < end, f"{step} finishes after it starts"
        assert events[end].elapsed_ms is not None
    probes = [e for e in events if e.kind == "health_probe"]
    assert probes and all(p.release == "v1" and p.attempt for p in probes)
    assert probes[-1].healthy is True
    [switched] = [e for e in events if e.kind == "route_switched"]
    assert switched.host == "shop.codeb.test"
    # Fixed addresses on the memory platform; {"srv": NAME} where routes discover the release from DNS.
    assert switched.upstreams is not None
    [upstream] = switched.upstreams["fixed"]
    assert (upstream.host, upstream.port) == ("127.0.0.1", switched.to_dict()["to"]["fixed"][0]["port"])
    assert switched.to_dict()["event"] == "route_switched"
    assert str(switched) == f"routed shop.codeb.test to {upstream}"
    assert repr(events[0]) == "DeployEvent(step_started, step='lock')"


def test_a_failed_step_is_an_event_before_the_error(platform: codeb.Platform, unhealthy_project: pathlib.Path) -> None:
    events: list[codeb.DeployEvent] = []

    with pytest.raises(codeb.errors.UnhealthyError):
        platform.deploy(unhealthy_project, "staging", progress=events.append)

    failed = [e for e in events if e.kind == "step_failed"]
    assert failed and failed[0].step == "health_check" and failed[0].error
    assert any(e.kind == "health_probe" and e.healthy is False for e in events)


def test_rollback_reports_progress_too(platform: codeb.Platform, project: pathlib.Path) -> None:
    platform.deploy(project, "staging")
    platform.deploy(project, "staging", image="localhost/shop:v2")
    events: list[codeb.DeployEvent] = []

    platform.rollback("shop", "staging", progress=events.append)

    assert ("step_started", "lock") == (events[0].kind, events[0].step)
    assert any(e.kind == "route_switched" for e in events)


def test_a_callable_that_raises_does_not_stop_the_deploy(
    platform: codeb.Platform, project: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unraisable: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(u.exc_value))

    def broken(event: codeb.DeployEvent) -> None:
        raise ValueError("progress display broke")

    report = platform.deploy(project, "staging", progress=broken)

    assert report.release == "v1"
    assert unraisable and all(isinstance(e, ValueError) for e in unraisable)


def test_a_callable_may_call_back_into_codeb(platform: codeb.Platform, project: pathlib.Path) -> None:
    seen: list[object] = []

    def look(event: codeb.DeployEvent) -> None:
        if event.kind == "step_started" and event.step == "record":
            seen.append(platform.lock_status("shop", "staging"))

    platform.deploy(project, "staging", progress=look)

    [status] = seen
    assert isinstance(status, codeb.LockStatus) and status.holder.message == "deploy shop/staging"


def test_a_blocking_call_releases_the_gil_while_it_runs(
    platform: codeb.Platform, unhealthy_project: pathlib.Path
) -> None:
    # The deploy spends about a second probing health in Rust; a Python thread
    # that needs the GIL keeps counting all that time only if it is released.
    def deploy() -> None:
        with pytest.raises(codeb.errors.UnhealthyError):
            platform.deploy(unhealthy_project, "staging")

    worker = threading.Thread(target=deploy)
    counted = 0
    worker.start()
    while worker.is_alive():
        counted += 1
    worker.join()

    assert counted > 100_000, f"the main thread ran only {counted} iterations during the deploy"
