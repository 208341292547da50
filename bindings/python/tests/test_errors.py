"""Error mapping: every SDK error kind has its class under codeb.errors, and
each kind these tests can reach is raised as that class with its context."""

from __future__ import annotations

import builtins
import datetime
import os
import pathlib
import stat
import threading

import pytest

import codeb
from codeb import errors
from conftest import platform_toml, write_project

# Every kind of codeb::ErrorKind, with the class it must raise.
KINDS = {
    "not_found": errors.NotFoundError,
    "already_exists": errors.AlreadyExistsError,
    "invalid": errors.InvalidError,
    "conflict": errors.ConflictError,
    "locked": errors.LockedError,
    "unavailable": errors.UnavailableError,
    "unhealthy": errors.UnhealthyError,
    "forbidden": errors.ForbiddenError,
    "unauthenticated": errors.UnauthenticatedError,
    "timeout": errors.CodebTimeoutError,
    "internal": errors.InternalError,
}


def test_every_error_kind_of_the_sdk_has_its_own_class_under_one_base() -> None:
    assert errors.ERRORS_BY_KIND == KINDS
    assert len(set(KINDS.values())) == len(KINDS)
    for cls in KINDS.values():
        assert issubclass(cls, errors.CodebError)
        assert cls is not errors.CodebError
        assert cls.__module__ == "codeb.errors"
    assert issubclass(errors.CodebError, Exception)


def test_each_class_also_derives_from_the_builtin_an_ordinary_except_names(platform: codeb.Platform) -> None:
    assert issubclass(errors.NotFoundError, LookupError)
    assert issubclass(errors.InvalidError, ValueError)
    assert issubclass(errors.UnavailableError, ConnectionError)
    assert issubclass(errors.CodebTimeoutError, builtins.TimeoutError)
    with pytest.raises(LookupError) as missing:
        platform.releases("ghost", "staging")
    assert isinstance(missing.value, errors.NotFoundError) and missing.value.kind == "not_found"
    with pytest.raises(ValueError):
        platform.releases("Ghost;id", "staging")


def test_the_timeout_class_does_not_shadow_the_builtin() -> None:
    assert errors.CodebTimeoutError.__name__ == "CodebTimeoutError"
    assert not hasattr(errors, "TimeoutError")
    assert builtins.TimeoutError.__module__ == "builtins"


def test_invalid_input_is_invalid_error_naming_the_field_and_rule(platform: codeb.Platform) -> None:
    with pytest.raises(errors.InvalidError) as raised:
        platform.releases("Shop; rm -rf /", "staging")

    e = raised.value
    assert (e.kind, e.temporary) == ("invalid", False)
    assert e.context == {"field": "project name", "rule": "must be lowercase"}
    assert e.message.startswith('invalid project name "Shop; rm -rf /"')
    assert str(e).startswith("invalid: invalid project name")


def test_something_missing_is_not_found_error(platform: codeb.Platform) -> None:
    with pytest.raises(errors.NotFoundError) as raised:
        platform.health_check("ghost", "staging")
    assert raised.value.kind == "not_found"
    assert "ghost" in raised.value.message


def test_a_stale_plan_is_conflict_error_at_the_plan_step(platform: codeb.Platform, project: pathlib.Path) -> None:
    plan = platform.deploy(project, "staging", dry_run=True)
    platform.deploy(project, "staging")

    with pytest.raises(errors.ConflictError) as raised:
        platform.apply(plan)
    assert raised.value.context == {
        "project": "shop",
        "environment": "staging",
        "server": "local",
        "step": "plan",
        "stale_plan": "true",
    }


def test_a_release_that_never_answers_healthy_is_unhealthy_error_at_the_health_step(
    platform: codeb.Platform, unhealthy_project: pathlib.Path
) -> None:
    with pytest.raises(errors.UnhealthyError) as raised:
        platform.deploy(unhealthy_project, "staging")

    e = raised.value
    assert e.context["step"] == "health_check"
    assert (e.context["project"], e.context["environment"]) == ("sick", "staging")
    [release] = platform.releases("sick", "staging")
    assert (release.status, release.failed_step) == ("failed", "health_check")
    assert release.failure_reason


def test_a_held_lock_is_locked_error_and_releasing_it_is_forbidden_while_its_holder_lives(
    platform: codeb.Platform, project: pathlib.Path
) -> None:
    inside, finish = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def hold(event: codeb.DeployEvent) -> None:
        if event.kind == "step_started" and event.step == "configure":
            inside.set()
            finish.wait(30)

    def first_deploy() -> None:
        try:
            outcome["report"] = platform.deploy(project, "staging", progress=hold)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = e

    holder = threading.Thread(target=first_deploy)
    holder.start()
    try:
        assert inside.wait(30), "the first deploy reached its configure step"

        status = platform.lock_status("shop", "staging")
        assert status is not None
        assert (status.project, status.env, status.stale) == ("shop", "staging", False)
        assert status.holder.pid == os.getpid()
        assert status.holder.message == "deploy shop/staging"
        assert "is locked by" in str(status)
        assert status.lease_left_ms is not None and status.lease_left_ms > 0
        assert isinstance(status.holder.lease_until, datetime.datetime)
        assert "its lease runs" in str(status)

        with pytest.raises(errors.LockedError) as locked:
            platform.deploy(project, "staging")
        assert locked.value.temporary is True
        assert locked.value.context["step"] == "lock"
        assert locked.value.context["stale"] == "false"

        with pytest.raises(errors.ForbiddenError):
            platform.lock_release("shop", "staging")
    finally:
        finish.set()
        holder.join(30)

    assert "error" not in outcome, outcome.get("error")
    assert platform.lock_status("shop", "staging") is None


def test_a_missing_platform_file_is_not_found_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(errors.NotFoundError) as raised:
        codeb.Platform.from_config(tmp_path / "nowhere.toml")
    assert "hint" in raised.value.context


def test_a_malformed_platform_file_is_invalid_error_naming_its_path(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "platform.toml"
    path.write_text("[state]\npath = 'x'\nsurprise = 1\n")

    with pytest.raises(errors.InvalidError) as raised:
        codeb.Platform.from_config(path)
    assert raised.value.context["path"] == str(path)


def test_from_config_finds_the_platform_file_through_codeb_config(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEB_CONFIG", str(tmp_path / "from-the-variable.toml"))

    with pytest.raises(errors.NotFoundError) as raised:
        codeb.Platform.from_config()
    assert "from-the-variable.toml" in raised.value.message


def _config_with(tmp_path: pathlib.Path, **overrides: str) -> pathlib.Path:
    (tmp_path / "podman.sock").write_text("")
    (tmp_path / "pdns.key").write_text("key\n")
    options = {
        "podman_socket": str(tmp_path / "podman.sock"),
        "caddy_admin": "http://127.0.0.1:1",
        "caddy_listen": "127.0.0.1:1",
        "pdns_api": "http://127.0.0.1:1",
        "pdns_key_line": f'api_key_file = "{tmp_path / "pdns.key"}"',
    }
    options.update(overrides)
    return platform_toml(tmp_path / "config", **options)  # type: ignore[arg-type]


def test_a_secret_key_file_others_may_read_is_forbidden_error(tmp_path: pathlib.Path) -> None:
    key = tmp_path / "secret.key"
    key.write_text("00" * 32)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)

    with pytest.raises(errors.ForbiddenError) as raised:
        codeb.Platform.from_config(_config_with(tmp_path, secret_key_line=f'key_file = "{key}"'))
    assert raised.value.context["path"] == str(key)


def test_an_unset_api_key_variable_is_unauthenticated_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODEB_PY_TEST_UNSET_KEY", raising=False)

    with pytest.raises(errors.UnauthenticatedError) as raised:
        codeb.Platform.from_config(_config_with(tmp_path, pdns_key_line='api_key_env = "CODEB_PY_TEST_UNSET_KEY"'))
    assert raised.value.kind == "unauthenticated"


def test_a_backend_that_cannot_be_reached_is_unavailable_error_naming_the_step(
    unreachable_config: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    platform = codeb.Platform.from_config(unreachable_config)
    assert repr(platform) == f"Platform(config='{unreachable_config}')"

    with pytest.raises(errors.UnavailableError) as raised:
        platform.ssot_status()
    assert raised.value.temporary is True

    with pytest.raises(errors.CodebError) as deploy:
        platform.deploy(write_project(tmp_path / "app"), "staging")
    assert deploy.value.context.get("step") == "plan"
