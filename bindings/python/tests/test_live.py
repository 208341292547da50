"""A deploy from Python against the live local stack (Podman, Caddy, PowerDNS).

`scripts/test` starts the stack and exports the CODEB_TEST_* variables. Without
them this test is skipped loudly, except under CI (CI=true), where it fails:
CI must always run it.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import urllib.request

import pytest

import codeb
from conftest import platform_toml, write_project

VARIABLES = [
    "CODEB_TEST_PODMAN_SOCKET",
    "CODEB_TEST_CADDY_ADMIN",
    "CODEB_TEST_CADDY_HTTP",
    "CODEB_TEST_PDNS_API",
    "CODEB_TEST_PDNS_API_KEY",
    "CODEB_TEST_PDNS_DNS",
    "CODEB_TEST_IMAGE_V1",
]
SECRET = "py-live-secret-0b1d-do-not-print"


@pytest.fixture
def stack() -> dict[str, str]:
    """The live stack's endpoints; a loud skip locally without them, a failure under CI."""
    missing = [name for name in VARIABLES if not os.environ.get(name)]
    if missing:
        message = f"the live stack's variables are not set: {', '.join(missing)} (scripts/test sets them)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(f"SKIPPED: {message}")
    return {name: os.environ[name] for name in VARIABLES}


def live_platform(stack: dict[str, str], tmp_path: pathlib.Path, zone: str) -> pathlib.Path:
    """A platform file in `tmp_path` for the live stack, its names under `zone`."""
    key = tmp_path / "pdns.key"
    key.write_text(stack["CODEB_TEST_PDNS_API_KEY"])
    return platform_toml(
        tmp_path / "platform",
        podman_socket=stack["CODEB_TEST_PODMAN_SOCKET"],
        caddy_admin=stack["CODEB_TEST_CADDY_ADMIN"],
        caddy_listen=stack["CODEB_TEST_CADDY_HTTP"],
        pdns_api=stack["CODEB_TEST_PDNS_API"],
        pdns_key_line=f'api_key_file = "{key}"',
        zone=zone,
        deploy='[deploy]\ndrain_grace = "0s"\nstop_grace = "5s"\nwatch_window = "1s"\n',
    )


def get(caddy: str, host: str) -> tuple[int, str]:
    """GETs `/` through Caddy with `host` as the Host header, bypassing any proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(f"http://{caddy}/", headers={"Host": host})
    with opener.open(request, timeout=10) as response:
        return response.status, response.read().decode()


def dig(server: str, name: str) -> str:
    ip, port = server.rsplit(":", 1)
    out = subprocess.run(
        ["dig", f"@{ip}", "-p", port, name, "A", "+short"], capture_output=True, text=True, check=True, timeout=10
    )
    return out.stdout.strip()


def test_a_deploy_from_python_serves_through_caddy_and_powerdns(stack: dict[str, str], tmp_path: pathlib.Path) -> None:
    ns = "t" + secrets.token_hex(4)  # a test namespace: codeb-testenv reaps what a killed run leaves
    zone = f"{ns}.codeb.test"
    project, domain = f"{ns}-hello", f"hello.{zone}"
    config = live_platform(stack, tmp_path, zone)
    app = write_project(
        tmp_path / "app",
        name=project,
        image="localhost/codeb-test/overridden:never-pulled",
        domains=(domain,),
        health_body="v1",
        deadline="20s",
        env={},
    )
    platform = codeb.Platform.from_config(config)
    events: list[codeb.DeployEvent] = []
    try:
        report = platform.deploy(app, "staging", image=stack["CODEB_TEST_IMAGE_V1"], progress=events.append)

        assert (report.project, report.release, report.image) == (project, "v1", stack["CODEB_TEST_IMAGE_V1"])
        assert report.domains == [domain]
        assert any(e.kind == "route_switched" and e.host == domain for e in events)
        status, body = get(stack["CODEB_TEST_CADDY_HTTP"], domain)
        assert status == 200 and "v1" in body, (status, body)
        if shutil.which("dig"):
            assert dig(stack["CODEB_TEST_PDNS_DNS"], domain) == "127.0.0.1"
        assert platform.health_check(project, "staging").healthy is True
        assert [(r.id, r.status) for r in platform.releases(project, "staging")] == [("v1", "live")]

        platform.env_set(project, "staging", {"TOKEN": SECRET}, secret=True)
        listed = platform.env_list(project, "staging")
        assert SECRET not in repr(listed)
        assert [(v.key, v.value) for v in listed.vars] == [("TOKEN", "********")]
    finally:
        removal = platform.project_delete(project, force=True)

    assert removal.applied is True
    assert {"remove_container", "remove_route", "forget_project"} <= {c.kind for c in removal.changes}
    assert get(stack["CODEB_TEST_CADDY_HTTP"], domain)[1] == "", "Caddy has no route for the host any more"
    assert SECRET not in "".join(repr(e) for e in events)


EXIT_MID_DEPLOY = """
import sys, threading, time
import codeb

platform = codeb.Platform.from_config(sys.argv[1])

def deploy() -> None:
    try:
        platform.deploy(sys.argv[2], "staging", image=sys.argv[3])
    except codeb.errors.CodebError:
        pass

threading.Thread(target=deploy, daemon=True).start()
time.sleep(1.5)
print("exiting in the middle of the deploy", flush=True)
sys.exit(0)
"""


def test_an_interpreter_that_exits_mid_deploy_lets_it_clean_up_and_leaves_no_lock(
    stack: dict[str, str], tmp_path: pathlib.Path
) -> None:
    ns = "t" + secrets.token_hex(4)  # a test namespace: codeb-testenv reaps what a killed run leaves
    project = f"{ns}-exit"
    config = live_platform(stack, tmp_path, f"{ns}.codeb.test")
    # It never answers with this body, so the deploy runs until its 4 s deadline, then undoes itself.
    app = write_project(
        tmp_path / "app", name=project, domains=(f"exit.{ns}.codeb.test",), health_body="never", deadline="4s", env={}
    )
    script = tmp_path / "exit_mid_deploy.py"
    script.write_text(EXIT_MID_DEPLOY)
    run = subprocess.run(
        [sys.executable, str(script), str(config), str(app), stack["CODEB_TEST_IMAGE_V1"]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    platform = codeb.Platform.from_config(config)
    try:
        assert run.returncode == 0, run.stderr
        assert "exiting in the middle of the deploy" in run.stdout
        assert "waiting for the calls in flight" in run.stderr, "the exit waited for the deploy"
        assert platform.lock_status(project, "staging") is None, "no stale lock after the interpreter left"
        assert [r.status for r in platform.releases(project, "staging")] == ["failed"], "it ran to its end"
    finally:
        platform.project_delete(project, force=True)
