"""Shared fixtures: an in-memory platform and project directories to deploy."""

from __future__ import annotations

import pathlib
import textwrap
from collections.abc import Iterator

import pytest

import codeb


def write_project(
    directory: pathlib.Path,
    name: str = "shop",
    image: str = "localhost/shop:v1",
    domains: tuple[str, ...] = ("shop.codeb.test",),
    health_body: str | None = None,
    deadline: str = "5s",
    env: dict[str, str] | None = None,
) -> pathlib.Path:
    """Writes a codeb.toml into `directory` and returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    body = f'body = "{health_body}"\n' if health_body is not None else ""
    env_lines = "".join(f'{k} = "{v}"\n' for k, v in ({"GREETING": "hello"} if env is None else env).items())
    domain_list = ", ".join(f'"{d}"' for d in domains)
    (directory / "codeb.toml").write_text(
        textwrap.dedent(
            f"""\
            name = "{name}"
            image = "{image}"
            port = 8080

            [healthcheck]
            path = "/"
            interval = "50ms"
            deadline = "{deadline}"
            """
        )
        + body
        + "\n[env]\n"
        + env_lines
        + f"\n[environments.staging]\ndomains = [{domain_list}]\n"
    )
    return directory


@pytest.fixture
def platform() -> codeb.Platform:
    """A whole platform in memory, fresh for each test."""
    return codeb.Platform.memory()


@pytest.fixture
def project(tmp_path: pathlib.Path) -> pathlib.Path:
    """The directory of project `shop`, whose releases answer healthy on the fakes."""
    return write_project(tmp_path / "shop")


@pytest.fixture
def unhealthy_project(tmp_path: pathlib.Path) -> pathlib.Path:
    """Project `sick`: its health check wants a body the fakes never serve, and gives up after 1 s."""
    return write_project(
        tmp_path / "sick", name="sick", domains=("sick.codeb.test",), health_body="never served", deadline="1s"
    )


def platform_toml(
    directory: pathlib.Path,
    *,
    podman_socket: str,
    caddy_admin: str,
    caddy_listen: str,
    pdns_api: str,
    pdns_key_line: str,
    zone: str = "codeb.test",
    state_path: pathlib.Path | None = None,
    secrets_dir: pathlib.Path | None = None,
    secret_key_line: str | None = None,
    deploy: str = "",
) -> pathlib.Path:
    """Writes a platform file (the format `we local up` writes) into `directory` and returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    state = state_path or directory / "ssot.json"
    secrets = secrets_dir or directory / "secrets"
    key_line = secret_key_line or f'key_file = "{directory / "secret.key"}"'
    path = directory / "platform.toml"
    path.write_text(
        f"""[state]
path = "{state}"
[secrets]
dir = "{secrets}"
{key_line}
[podman]
socket = "{podman_socket}"
[caddy]
admin = "{caddy_admin}"
listen = ["{caddy_listen}"]
tls = "off"
[powerdns]
api = "{pdns_api}"
{pdns_key_line}
zone = "{zone}"
{deploy}
"""
    )
    return path


@pytest.fixture
def unreachable_config(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A platform file whose every backend fails when touched.

    Podman's socket exists but refuses connections, Caddy and PowerDNS are on
    a closed port, the SSOT path is a directory and the secret store's
    directory is a file. A call that reaches any backend fails with something
    other than `InvalidError`.
    """
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    socket_path = tmp_path / "podman.sock"
    sock.bind(str(socket_path))  # bound but never listening: every connect is refused
    (tmp_path / "state-is-a-directory").mkdir()
    (tmp_path / "secrets-is-a-file").write_text("not a directory\n")
    (tmp_path / "pdns.key").write_text("key\n")
    path = platform_toml(
        tmp_path / "config",
        podman_socket=str(socket_path),
        caddy_admin="http://127.0.0.1:1",
        caddy_listen="127.0.0.1:1",
        pdns_api="http://127.0.0.1:1",
        pdns_key_line=f'api_key_file = "{tmp_path / "pdns.key"}"',
        state_path=tmp_path / "state-is-a-directory",
        secrets_dir=tmp_path / "secrets-is-a-file",
    )
    yield path
    sock.close()
