"""The embedded run's mock in a process of its own (conformance.mock.child): it serves, it stops,
its fixtures token is not on its command line, and it never outlives the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from helpers import OFFLINE
from test_budgets import budget_config

from conformance.mock import MockConfig
from conformance.mock.child import MockProcess
from conformance.run import session
from conformance.run.session import SuiteSession

TOKEN = "mock-process-fixtures-token"


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or "Z" in _state(pid):
            return True
        time.sleep(0.05)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"


def test_it_serves_the_mock_and_stops() -> None:
    with MockProcess(MockConfig(fixtures_token=TOKEN)) as mock:
        child = mock._child
        assert child is not None
        answer = httpx.post(f"{mock.url}/_fixtures/orgs", headers={"x-fixtures-token": TOKEN}, timeout=10)
        assert answer.status_code == 201, answer.text
        assert TOKEN.encode() not in Path(f"/proc/{child.pid}/cmdline").read_bytes()
    assert child.returncode is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{mock.url}/v1/calls/x", timeout=2)


def test_the_mock_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    parent = (
        "import os, sys\n"
        "from conformance.mock import MockConfig\n"
        "from conformance.mock.child import MockProcess\n"
        f"mock = MockProcess(MockConfig(fixtures_token={TOKEN!r})).start()\n"
        "print(mock._child.pid, mock.url, flush=True)\n"
        "sys.stdin.read()\n"
    )
    script = tmp_path / "parent.py"
    script.write_text(parent)
    with subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as started:
        assert started.stdout is not None
        pid, url = started.stdout.readline().split()
        answer = httpx.post(f"{url}/_fixtures/orgs", headers={"x-fixtures-token": TOKEN}, timeout=10)
        assert answer.status_code == 201
        os.kill(started.pid, signal.SIGKILL)  # no clean-up of its own runs
        started.wait()
    assert _gone(int(pid), within=5), "the mock outlived the process that started it"


def test_the_session_of_an_embedded_run_takes_the_mock_started_early(tmp_path: Path) -> None:
    """The command line starts the bundled mock before pytest (`mock_started_early`): the run's
    session serves from that one, and starts no other."""
    config = budget_config(300, None, tmp_path)
    with session.mock_started_early(config):
        (early,) = session._early
        suite = SuiteSession.open(config)
        try:
            assert suite.mock is early
            assert session._early == []
            assert suite.ctx.config.target_url == early.url
        finally:
            suite.close()


def test_a_mock_started_early_is_stopped_when_no_session_took_it(tmp_path: Path) -> None:
    """A run that ends before it opens a session (a `-k` that selects nothing, say) leaves no mock."""
    with session.mock_started_early(budget_config(300, None, tmp_path)):
        (early,) = session._early
        child = early._child
        assert child is not None
        assert child.poll() is None
    assert session._early == []
    assert child.poll() is not None


def test_pytest_started_on_the_suite_starts_the_mock_before_collecting(tmp_path: Path) -> None:
    """A run pytest starts (each worker of `--workers`, or pytest by hand) starts the bundled mock as
    its collection begins; a run that then ends before its session (here, a `-k` that selects
    nothing) stops it."""
    seen: list[MockProcess] = []

    class AtCollection:
        def pytest_collection(self) -> None:
            seen.extend(session._early)

    words = ["--pyargs", "conformance.suite", "-p", "no:cacheprovider", "-c", os.devnull, "--assert=plain"]
    words += ["--report-dir", str(tmp_path / "reports"), "-k", "no_such_check", "-q"]
    assert pytest.main(words, plugins=[AtCollection()]) == pytest.ExitCode.USAGE_ERROR
    (early,) = seen
    assert early.url.startswith("http://127.0.0.1:")
    assert session._early == []
    assert early._child is None  # stopped


def test_a_run_against_a_target_starts_no_mock(tmp_path: Path) -> None:
    with session.mock_started_early(budget_config(300, OFFLINE, tmp_path)):
        assert session._early == []
