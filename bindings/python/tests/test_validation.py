"""Every string input goes through the SDK's validated types before any backend is touched.

Each call runs twice against a platform whose every backend fails when
touched (see `unreachable_config`): with valid inputs it fails with a
backend's error, which proves the call does reach a backend; with one
hostile input it fails with `InvalidError`, which proves the input was
refused first.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import pytest

import codeb
from codeb import errors
from conftest import write_project

HOSTILE_PROJECTS = ["", "Shop", "shop;rm -rf /", "../etc", "a b", "codeb", "x" * 64, "shop\n", "xn--shop"]
HOSTILE_ENVS = ["", "prod", "Staging", "preview-", "preview-A", "staging; id", "preview-" + "x" * 21]
HOSTILE_DOMAINS = ["", "localhost", "evil.com\nHost: x", "a..b", "{x}.com", "`id`.com", "a b.com", "x.*.com"]
HOSTILE_IMAGES = ["", "UPPER/app:v1", "app:tag with space", "app@sha256:short", "-app:v1", "app:v1;rm"]
HOSTILE_KEYS = ["", "1ABC", "A-B", "A B", "A=B", "$HOME"]
HOSTILE_SERVICES = ["", "mysql", "APP", "app "]
HOSTILE_RELEASES = ["", "V1", "v1;rm", "../v1"]

Call = Callable[..., Any]  # (platform, project_dir) -> result; hostile ones bind their value as a default


HOSTILE_SERVERS = ["-oProxyCommand=touch /tmp/x", "app 1", "app;id", "../app", "", "a" * 64, "app\x1b[2J"]

CASES: dict[str, tuple[Call, list[Call]]] = {
    "server_check": (
        lambda p, d: p.server_check("nowhere"),
        [lambda p, d, x=x: p.server_check(x) for x in HOSTILE_SERVERS],
    ),
    "deploy": (
        lambda p, d: p.deploy(d, "staging"),
        [lambda p, d, e=e: p.deploy(d, e) for e in HOSTILE_ENVS]
        + [lambda p, d, i=i: p.deploy(d, "staging", image=i) for i in HOSTILE_IMAGES],
    ),
    "rollback": (
        lambda p, d: p.rollback("shop", "staging", to="v1"),
        [lambda p, d, x=x: p.rollback(x, "staging") for x in HOSTILE_PROJECTS]
        + [lambda p, d, r=r: p.rollback("shop", "staging", to=r) for r in HOSTILE_RELEASES],
    ),
    "releases": (
        lambda p, d: p.releases("shop", "staging"),
        [lambda p, d, x=x: p.releases(x, "staging") for x in HOSTILE_PROJECTS]
        + [lambda p, d, e=e: p.releases("shop", e) for e in HOSTILE_ENVS],
    ),
    "domain_setup": (
        lambda p, d: p.domain_setup("shop", "staging", "shop.codeb.test"),
        [lambda p, d, x=x: p.domain_setup("shop", "staging", x) for x in HOSTILE_DOMAINS],
    ),
    "domain_remove": (
        lambda p, d: p.domain_remove("shop", "staging", "shop.codeb.test", force=True),
        [lambda p, d, x=x: p.domain_remove("shop", "staging", x, force=True) for x in HOSTILE_DOMAINS],
    ),
    "domain_list": (
        lambda p, d: p.domain_list("shop", "staging"),
        [lambda p, d, e=e: p.domain_list("shop", e) for e in HOSTILE_ENVS],
    ),
    "env_set": (
        lambda p, d: p.env_set("shop", "staging", {"GOOD": "value"}),
        [lambda p, d, k=k: p.env_set("shop", "staging", {"GOOD": "value", k: "value"}) for k in HOSTILE_KEYS]
        + [lambda p, d: p.env_set("shop", "staging", {"GOOD": "nul\0byte"})],
    ),
    "env_list": (
        lambda p, d: p.env_list("shop", "staging"),
        [lambda p, d, e=e: p.env_list("shop", e) for e in HOSTILE_ENVS],
    ),
    "env_unset": (
        lambda p, d: p.env_unset("shop", "staging", ["GOOD"], force=True),
        [lambda p, d, k=k: p.env_unset("shop", "staging", ["GOOD", k], force=True) for k in HOSTILE_KEYS],
    ),
    "health_check": (
        lambda p, d: p.health_check("shop", "staging"),
        [lambda p, d, x=x: p.health_check(x, "staging") for x in HOSTILE_PROJECTS],
    ),
    "ssot_project": (
        lambda p, d: p.ssot_project("shop"),
        [lambda p, d, x=x: p.ssot_project(x) for x in HOSTILE_PROJECTS],
    ),
    "port_allocate": (
        lambda p, d: p.port_allocate("shop", "staging", "postgres"),
        [lambda p, d, s=s: p.port_allocate("shop", "staging", s) for s in HOSTILE_SERVICES],
    ),
    "port_list": (
        lambda p, d: p.port_list(project="shop"),
        [lambda p, d, x=x: p.port_list(project=x) for x in HOSTILE_PROJECTS]
        + [lambda p, d, e=e: p.port_list(env=e) for e in HOSTILE_ENVS],
    ),
    "port_release": (
        lambda p, d: p.port_release("shop", "staging", force=True),
        [lambda p, d, s=s: p.port_release("shop", "staging", s, force=True) for s in HOSTILE_SERVICES],
    ),
    "project_delete": (
        lambda p, d: p.project_delete("shop", force=True),
        [lambda p, d, x=x: p.project_delete(x, force=True) for x in HOSTILE_PROJECTS],
    ),
    "lock_status": (
        lambda p, d: p.lock_status("shop", "staging"),
        [lambda p, d, e=e: p.lock_status("shop", e) for e in HOSTILE_ENVS],
    ),
    "lock_release": (
        lambda p, d: p.lock_release("shop", "staging", force=True),
        [lambda p, d, x=x: p.lock_release(x, "staging", force=True) for x in HOSTILE_PROJECTS],
    ),
    "logs": (
        lambda p, d: p.logs("shop", "staging"),
        [lambda p, d, x=x: p.logs(x, "staging") for x in HOSTILE_PROJECTS],
    ),
    "recover": (
        lambda p, d: p.recover("shop", "staging"),
        [lambda p, d, e=e: p.recover("shop", e) for e in HOSTILE_ENVS],
    ),
    "promote": (
        lambda p, d: p.promote("shop", "staging", "production"),
        [lambda p, d, x=x: p.promote(x, "staging", "production") for x in HOSTILE_PROJECTS]
        + [lambda p, d, e=e: p.promote("shop", "staging", e) for e in HOSTILE_ENVS],
    ),
}


@pytest.mark.parametrize("method", sorted(CASES))
def test_a_hostile_input_is_refused_before_any_backend_is_touched(
    method: str, unreachable_config: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    platform = codeb.Platform.from_config(unreachable_config)
    project = write_project(tmp_path / "shop")
    valid, hostile = CASES[method]

    with pytest.raises(errors.CodebError) as reached:
        valid(platform, project)
    assert not isinstance(reached.value, errors.InvalidError), f"{method} with valid input reaches a backend"

    for call in hostile:
        with pytest.raises(errors.InvalidError):
            call(platform, project)


def test_every_platform_method_that_takes_strings_is_covered() -> None:
    takes_no_string = {
        "from_config",
        "memory",
        "apply",
        "ssot_status",
        "project_list",
        "server_list",
        "port_check",
        "close",
        "reconcile",
        "init",  # a path, and no backend to reach: test_platform covers it
    }
    methods = {name for name in vars(codeb.Platform) if not name.startswith("_")}
    assert methods - takes_no_string == set(CASES)


def test_a_non_string_env_value_is_refused_by_its_key_without_echoing_it(platform: codeb.Platform) -> None:
    with pytest.raises(errors.InvalidError) as raised:
        platform.env_set("shop", "staging", {"TOKEN": 424242})  # type: ignore[dict-item]
    assert raised.value.context == {"key": "TOKEN"}
    assert "424242" not in str(raised.value)
