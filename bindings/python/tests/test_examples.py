"""The scripts in examples/python run, against a platform in memory."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.parametrize("script", ["deploy.py", "deploy_async.py"])
def test_the_example_deploys_the_hello_app_in_memory(script: str) -> None:
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "python" / script), str(EXAMPLES / "hello"), "--env", "staging", "--memory"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stderr
    assert "hello/staging: v1 serves on port 3000" in run.stdout


def test_the_progress_bar_draws_each_step_once_and_reaches_record() -> None:
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "python" / "deploy.py"), str(EXAMPLES / "hello"), "--memory"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    lines = run.stderr.splitlines()
    assert lines[0].startswith("[##") and lines[0].endswith("1/12 lock")
    assert any(line.endswith("11/12 record") for line in lines)
    assert len(lines) == len(set(lines))


def test_a_failure_is_reported_with_its_context_and_exit_code_1(tmp_path: pathlib.Path) -> None:
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "python" / "deploy.py"), str(tmp_path), "--memory"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 1
    assert run.stderr.startswith("error: not_found: cannot read")
