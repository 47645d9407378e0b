"""The `husky-conformance` command line: usage errors, and the `mock` subcommand for real.

Usage errors run `main()` in-process (with serving forbidden, so a missed error cannot hang the
test). The end-to-end tests start `python -m conformance.cli mock` as a subprocess, read its
banner, and talk to it on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import queue
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import httpx
import pytest

import conformance
import conformance.mock.server
from conformance.cli import main

USAGE_ERROR = 4
PROG = "husky-conformance"
TOKEN = "cli-fixtures-" + secrets.token_urlsafe(12)
BANNER_SECONDS = 20.0
STOP_SECONDS = 10.0
LOOPBACK = "127.0.0.1"
ALL_STATUSES = {"queued", "initiated", "ringing", "in_progress", "completed", "failed", "cancelled"}
WHAT_TO_DO = re.compile(rf"\(see '{PROG}( mock)? --help'\)$|choose another --port$")


# --- usage errors --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main()` must stop at the usage error; reaching `serve` would block the test forever."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("main() went on to serve instead of reporting a usage error")

    monkeypatch.setattr(conformance.mock.server, "serve", refuse)


def assert_usage_error(capsys: pytest.CaptureFixture[str], argv: list[str], mentions: str) -> str:
    assert main(argv) == USAGE_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n")
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    (line,) = lines
    assert line.startswith(f"{PROG}: ")
    assert mentions in line, line
    assert WHAT_TO_DO.search(line), f"the message does not say what to do: {line}"
    return line


@pytest.mark.parametrize(
    ("argv", "mentions"),
    [
        ([], "command"),
        (["serve"], "serve"),
        (["MOCK"], "MOCK"),
        (["--bogus", "mock"], "--bogus"),
        (["mock", "--bogus"], "--bogus"),
        (["mock", "extra"], "extra"),
        (["mock", "--port"], "--port"),
        (["mock", "--port", "abc"], "--port"),
        (["mock", "--port", "65536"], "--port"),
        (["mock", "--port", "-1"], "--port"),
        (["mock", "--port", "1.5"], "--port"),
        (["mock", "--port", ""], "--port"),
        (["mock", "--rate-limit", "0"], "--rate-limit"),
        (["mock", "--rate-limit", "-1"], "--rate-limit"),
        (["mock", "--rate-limit", "abc"], "--rate-limit"),
        (["mock", "--rate-limit", "2.5"], "--rate-limit"),
        (["mock", "--rate-limit"], "--rate-limit"),
    ],
    ids=[
        "no subcommand",
        "unknown subcommand",
        "subcommand in upper case",
        "unknown top-level option",
        "unknown mock option",
        "stray argument",
        "port without value",
        "port not a number",
        "port too large",
        "port negative",
        "port fractional",
        "port empty",
        "rate limit 0",
        "rate limit -1",
        "rate limit abc",
        "rate limit fractional",
        "rate limit without value",
    ],
)
def test_usage_error(capsys: pytest.CaptureFixture[str], argv: list[str], mentions: str) -> None:
    assert_usage_error(capsys, argv, mentions)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{PROG} {conformance.__version__} (contract {conformance.CONTRACT_VERSION})\n"
    assert err == ""


def test_a_port_in_use_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = assert_usage_error(capsys, ["mock", "--host", LOOPBACK, "--port", str(port)], str(port))
    assert "choose another --port" in line


# --- the real command ----------------------------------------------------------------------------


def _pump(stream: IO[str], into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put(None)


@dataclass
class MockProcess:
    """`python -m conformance.cli mock --port 0 ...`, its stdout read line by line, stderr kept."""

    args: list[str]
    proc: subprocess.Popen[str] = field(init=False)
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        command = [sys.executable, "-m", "conformance.cli", "mock", "--port", "0", *self.args]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._out: queue.Queue[str | None] = queue.Queue()
        self._err: queue.Queue[str | None] = queue.Queue()
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._threads = [
            threading.Thread(target=_pump, args=(self.proc.stdout, self._out), daemon=True),
            threading.Thread(target=_pump, args=(self.proc.stderr, self._err), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def read_until(self, pattern: str) -> list[str]:
        """Stdout lines up to and including the first that matches `pattern`."""
        deadline = time.monotonic() + BANNER_SECONDS
        start = len(self.stdout)
        while True:
            try:
                line = self._out.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} within {BANNER_SECONDS}s") from None
            if line is None:
                raise AssertionError(f"the mock exited ({self.proc.poll()}) before printing {pattern!r}")
            self.stdout.append(line)
            if re.search(pattern, line):
                return self.stdout[start:]

    def stop(self) -> None:
        """Terminate (kill if it will not stop), then collect the rest of stdout and all stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_SECONDS)
        for thread in self._threads:
            thread.join(timeout=STOP_SECONDS)
        self.stdout += _drain(self._out)
        self.stderr += _drain(self._err)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _drain(lines: queue.Queue[str | None]) -> list[str]:
    drained = []
    while not lines.empty():
        line = lines.get_nowait()
        if line is not None:
            drained.append(line)
    return drained


StartMock = Callable[..., MockProcess]


@pytest.fixture
def start_mock() -> Iterator[StartMock]:
    started: list[MockProcess] = []

    def start(*args: str) -> MockProcess:
        process = MockProcess(list(args))
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@dataclass(frozen=True)
class Banner:
    url: str
    fixtures_token: str | None
    generated: bool
    api_key: str | None = None
    limited_key: str | None = None
    webhook_url: str | None = None
    calls: dict[str, str] = field(default_factory=dict)


def _match(pattern: str, lines: list[str]) -> re.Match[str] | None:
    found = [m for m in (re.fullmatch(pattern, line) for line in lines) if m]
    assert len(found) <= 1, f"{pattern!r} matches more than one banner line"
    return found[0] if found else None


def parse_banner(lines: list[str]) -> Banner:
    listening = _match(r"HuskyVoice mock listening on (http://\S+)", lines)
    assert listening, lines
    url = listening.group(1)
    assert httpx.URL(url).host == LOOPBACK, f"the mock listens on {url}, not on {LOOPBACK}"
    fixtures = _match(r"fixtures API: (\S+)/_fixtures  x-fixtures-token: (\S+)( \(generated.*\))?", lines)
    if fixtures:
        assert fixtures.group(1) == url
    api_key = _match(r"  API key \(all scopes\): +(\S+)", lines)
    limited = _match(r"  API key \(create and read\): +(\S+)", lines)
    webhook = _match(r"  webhook URL: +(\S+)", lines)
    calls = {m.group(1): m.group(2) for m in (re.fullmatch(r"  (\w+) call: +(\S+)", line) for line in lines) if m}
    return Banner(
        url=url,
        fixtures_token=fixtures.group(2) if fixtures else None,
        generated=bool(fixtures and fixtures.group(3)),
        api_key=api_key.group(1) if api_key else None,
        limited_key=limited.group(1) if limited else None,
        webhook_url=webhook.group(1) if webhook else None,
        calls=calls,
    )


@contextmanager
def serving_client(url: str) -> Iterator[httpx.Client]:
    """An httpx client of `url`, once the mock answers on it (see the banner test for why wait)."""
    with httpx.Client(base_url=url, timeout=10) as http:
        deadline = time.monotonic() + BANNER_SECONDS
        while True:
            try:
                http.get("/v1/calls/readiness-probe")
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        yield http


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def assert_stderr_is_a_clean_access_log(process: MockProcess, *secrets_: str | None) -> list[dict[str, Any]]:
    text = "\n".join(process.stderr)
    for secret in secrets_:
        assert secret, "a secret the banner should have printed is missing"
        assert secret not in text, "a secret appears on the mock's stderr"
    lines = [json.loads(line) for line in process.stderr if line.strip()]  # only access-log lines
    assert all(set(line) == {"method", "path", "status", "ms"} for line in lines), lines
    return lines


def test_the_mock_command_serves_its_demo_organisation(start_mock: StartMock) -> None:
    process = start_mock("--fixtures-token", TOKEN)
    banner = parse_banner(process.read_until(r"^try:$"))
    assert banner.fixtures_token == TOKEN
    assert not banner.generated
    assert set(banner.calls) == ALL_STATUSES
    assert banner.api_key
    assert banner.limited_key
    assert banner.webhook_url
    assert banner.webhook_url.startswith(f"{banner.url}/v1/hooks/")
    completed = banner.calls["completed"]
    with serving_client(banner.url) as http:
        read = http.get(f"/v1/calls/{completed}", headers={"Authorization": f"Bearer {banner.api_key}"})
        assert read.status_code == 200, read.text
        assert read.json()["data"]["call_id"] == completed
        assert read.json()["data"]["status"] == "completed"

        refused = http.delete(f"/v1/calls/{completed}", headers={"x-api-key": banner.limited_key})
        assert_error(refused, 403, "FORBIDDEN")
        assert http.get(f"/v1/calls/{completed}", headers={"x-api-key": banner.api_key}).status_code == 200

        deleted = http.post(banner.webhook_url, json={"action": "call.delete", "data": {"call_id": completed}})
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"data": {"call_id": completed, "deleted": True}}
        gone = http.get(f"/v1/calls/{completed}", headers={"x-api-key": banner.api_key})
        assert_error(gone, 404, "NOT_FOUND")

        org = http.post("/_fixtures/orgs", headers={"x-fixtures-token": TOKEN})
        assert org.status_code == 201, org.text
        assert set(org.json()) == {"org_id", "webhook_token"}
        wrong = http.post("/_fixtures/orgs", headers={"x-fixtures-token": TOKEN + "x"})
        assert_error(wrong, 401, "UNAUTHORIZED")
    process.stop()
    assert process.proc.returncode is not None
    webhook_token = banner.webhook_url.rsplit("/", 1)[1]
    lines = assert_stderr_is_a_clean_access_log(
        process, banner.api_key, banner.limited_key, webhook_token, TOKEN, org.json()["webhook_token"]
    )
    assert {"method": "POST", "path": "/v1/hooks/[REDACTED]", "status": 200} in [
        {name: line[name] for name in ("method", "path", "status")} for line in lines
    ]
    assert len(lines) >= 7


def test_the_banner_appears_only_once_the_port_accepts_connections(start_mock: StartMock) -> None:
    process = start_mock("--fixtures-token", TOKEN, "--no-demo")
    url = parse_banner(process.read_until(r"listening on")).url
    with socket.create_connection((LOOPBACK, httpx.URL(url).port), timeout=5):
        pass  # the banner said "listening": a client that connects at once must get through


def test_no_demo_prints_no_api_key(start_mock: StartMock) -> None:
    process = start_mock("--fixtures-token", TOKEN, "--no-demo")
    banner = parse_banner(process.read_until(r"^fixtures API: "))
    with serving_client(banner.url) as http:
        assert_error(http.get("/v1/calls/anything", headers={"x-api-key": "sk_test_guess"}), 401, "UNAUTHORIZED")
        assert http.post("/_fixtures/orgs", headers={"x-fixtures-token": TOKEN}).status_code == 201
    process.stop()
    everything = "\n".join(process.stdout)
    assert banner.api_key is None
    assert banner.webhook_url is None
    assert not banner.calls
    for absent in ("API key", "sk_test_", "/v1/hooks/", "demo organisation", "try:"):
        assert absent not in everything, f"--no-demo still prints {absent!r}"
    assert_stderr_is_a_clean_access_log(process, TOKEN)


def test_without_fixtures_token_one_is_generated_and_printed(start_mock: StartMock) -> None:
    processes = [start_mock("--no-demo") for _ in range(2)]  # started together, read in turn
    banners = [parse_banner(process.read_until(r"^fixtures API: ")) for process in processes]
    assert all(banner.generated for banner in banners)
    tokens = [banner.fixtures_token or "" for banner in banners]
    assert all(len(token) >= 16 for token in tokens), tokens
    assert tokens[0] != tokens[1], "two starts generated the same fixtures token"
    webhook_tokens = []
    for banner, token, other in zip(banners, tokens, reversed(tokens), strict=True):
        with serving_client(banner.url) as http:
            org = http.post("/_fixtures/orgs", headers={"x-fixtures-token": token})
            assert org.status_code == 201, org.text
            webhook_tokens.append(org.json()["webhook_token"])
            assert_error(http.post("/_fixtures/orgs"), 401, "UNAUTHORIZED")
            assert_error(http.post("/_fixtures/orgs", headers={"x-fixtures-token": other}), 401, "UNAUTHORIZED")
    for process in processes:
        process.stop()
        assert_stderr_is_a_clean_access_log(process, *tokens, *webhook_tokens)


def test_a_reader_that_leaves_early_does_not_stop_the_run(tmp_path: Any) -> None:
    """`husky-conformance run | head -2`: the rest of the output goes nowhere, and the run goes on to
    its verdict and its clean-up (not "the suite itself failed", not killed by SIGPIPE)."""
    command = [sys.executable, "-m", "conformance.cli", "run", "--budget", "smoke", "-k", "routes_and_methods"]
    report_dir = tmp_path / "reports"
    with subprocess.Popen(
        [*command, "--report-dir", str(report_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as run:
        assert run.stdout is not None
        assert run.stderr is not None
        run.stdout.readline()
        run.stdout.close()  # the reader has all it wants
        stderr = run.stderr.read()
        returncode = run.wait(timeout=120)
    assert returncode == 2, stderr  # incomplete: -k ran one check
    assert "suite itself failed" not in stderr, stderr
    assert "Traceback" not in stderr, stderr
    assert json.loads((report_dir / "report.json").read_text())["verdict"] == "incomplete"
