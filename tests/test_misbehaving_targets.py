"""Errors of the target become failures with their request, never tracebacks.

Each target here is a small server of our own on a free loopback port: one that answers 500 to
everything, one that answers 200 with a body that is not JSON, one that outlives the request
timeout, one that hangs up without answering. The suite runs against each through the real CLI
with credentials from the environment (there is no fixtures API to seed anything).

Exit codes: a target that answers the suite's reachability probe at all is under test, and what
it gets wrong is a failure (exit 1). A target that never gives an HTTP answer, not even to the
probe, cannot be told apart from a wrong URL, so that is a usage error (exit 4) with one line;
the timing-out and hanging-up targets are run both ways: misbehaving on every request (4), and
only on DELETE (1, each failure carrying the DELETE that got no answer).
"""

from __future__ import annotations

import asyncio
import json
import socketserver
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from suite_runs import LOOPBACK, QUICK_PROPERTIES, AppServer, SuiteRun, refused_url, run_suite, run_suites

ENV_CREDENTIALS = {"HUSKY_API_KEY": "k", "HUSKY_WEBHOOK_TOKEN": "t"}
TIMEOUT = 0.5
SLEEP = 5.0  # well past TIMEOUT
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
NOT_FOUND = {"error": {"code": "NOT_FOUND", "message": "No such thing."}}


# --- the targets ---------------------------------------------------------------------------------


def _app(answer: Callable[[Request], Awaitable[Response]]) -> Starlette:
    return Starlette(routes=[Route("/{path:path}", answer, methods=METHODS)])


async def always_500(request: Request) -> Response:
    return Response(b"Internal Server Error", 500, media_type="text/plain")


async def garbage_200(request: Request) -> Response:
    return Response(b"\x00\xff<html>not json at all", 200, media_type="text/html")


def sleeper(methods: set[str]) -> Callable[[Request], Awaitable[Response]]:
    async def answer(request: Request) -> Response:
        deadline = time.monotonic() + (SLEEP if request.method in methods else 0)
        while time.monotonic() < deadline and not await request.is_disconnected():
            await asyncio.sleep(0.02)  # until the client gives up, so that no handler outlives the test
        return JSONResponse(NOT_FOUND, 404)

    return answer


class _HangUp(socketserver.BaseRequestHandler):
    """One request per connection: answer 404 in the envelope, or close without a byte."""

    server: HangUpServer

    def handle(self) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        if head.split(b" ", 1)[0].decode() in self.server.hang_up_on:
            return  # the connection closes, no status line sent
        fields = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:])
        while len(body) < int(fields.get(b"content-length", 0)):  # closing on unread data would reset
            body += self.request.recv(65536)
        payload = json.dumps(NOT_FOUND).encode()
        self.request.sendall(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )


class HangUpServer(socketserver.ThreadingTCPServer):
    """Raw TCP: an ASGI server always answers (a crashed app still gets a 500), this one need not."""

    daemon_threads = True

    def __init__(self, hang_up_on: set[str]) -> None:
        super().__init__((LOOPBACK, 0), _HangUp)
        self.hang_up_on = hang_up_on

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def __enter__(self) -> HangUpServer:
        threading.Thread(target=self.serve_forever, name="hang-up-server", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


# --- runs ----------------------------------------------------------------------------------------


class Target(Protocol):
    """A server of this module: a context manager with a URL."""

    @property
    def url(self) -> str: ...

    def __enter__(self) -> Target: ...

    def __exit__(self, *exc: object) -> None: ...


UNDER_TEST: dict[str, Callable[[], Target]] = {
    "500 to everything": lambda: AppServer(_app(always_500)),
    "200 with a body that is not JSON": lambda: AppServer(_app(garbage_200)),
    "DELETE outlives the timeout": lambda: AppServer(_app(sleeper({"DELETE"}))),
    "DELETE gets no answer": lambda: HangUpServer({"DELETE"}),
}
UNREACHABLE: dict[str, Callable[[], Target]] = {
    "every request outlives the timeout": lambda: AppServer(_app(sleeper(set(METHODS)))),
    "no request gets an answer": lambda: HangUpServer(set(METHODS)),
}


def _args(url: str) -> list[str]:
    return ["--target-url", url, "--timeout", str(TIMEOUT), *QUICK_PROPERTIES]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SuiteRun]]:
    """The suite against every target under test, all runs at once (they take seconds each)."""
    with ExitStack() as stack:
        servers = {name: stack.enter_context(make()) for name, make in UNDER_TEST.items()}
        base = tmp_path_factory.mktemp("misbehaving")
        planned = [
            (_args(s.url), base / f"run{n}" / "reports", ENV_CREDENTIALS) for n, s in enumerate(servers.values())
        ]
        yield dict(zip(servers, run_suites(planned), strict=True))


@pytest.mark.parametrize("target", UNDER_TEST)
def test_a_misbehaving_target_fails_with_its_requests(runs: dict[str, SuiteRun], target: str) -> None:
    run = runs[target]
    assert run.returncode == 1, run.describe()
    assert run.report["verdict"] == "fail"
    assert run.report["suite_errors"] == []
    assert run.statuses("fail"), "no requirement failed"
    for failure in run.failures:
        assert "curl -sS -X " in failure["reproduction"], failure
        assert "# replay the run: husky-conformance run --seed " in failure["reproduction"]


@pytest.mark.parametrize("target", UNDER_TEST)
def test_no_traceback_reaches_the_output(runs: dict[str, SuiteRun], target: str) -> None:
    run = runs[target]
    assert "Traceback" not in run.output, run.describe()
    assert "SUITE ERROR" not in run.stdout
    assert run.stdout.rstrip().splitlines()[-1].startswith("="), "pytest did not finish its session"


@pytest.mark.parametrize(
    ("target", "requirement", "outcome"),
    [
        ("500 to everything", "ENV-NO-5XX", "# -> 500"),
        ("500 to everything", "ENV-ERROR-ENVELOPE", "# -> 500"),
        ("200 with a body that is not JSON", "TENANT-404", "# -> 200"),
        ("DELETE outlives the timeout", "DEL-NOT-FOUND-404", "# -> no answer: timed out"),
        ("DELETE gets no answer", "DEL-NOT-FOUND-404", "# -> no answer: RemoteProtocolError"),
    ],
    ids=["500: no 5xx", "500: envelope", "garbage: 404 expected", "timeout", "hang-up"],
)
def test_the_failure_names_what_came_back(
    runs: dict[str, SuiteRun], target: str, requirement: str, outcome: str
) -> None:
    failures = runs[target].requirements[requirement]["failures"]
    assert failures, f"{requirement} did not fail against {target!r}"
    last_steps = [f["reproduction"].splitlines()[-2] for f in failures]
    assert any(outcome in step for step in last_steps), last_steps


def test_a_timeout_costs_the_timeout_not_the_servers_sleep(runs: dict[str, SuiteRun]) -> None:
    run = runs["DELETE outlives the timeout"]
    assert any("no answer: timed out" in f["reproduction"] for f in run.failures)
    assert run.report["duration_s"] < SLEEP, "the suite waited for an answer past --timeout"


def assert_cannot_reach(run: SuiteRun, url: str, error: str) -> None:
    assert run.returncode == 4, run.describe()
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        f"husky-conformance: cannot reach the target {url} ({error}); check --target-url and that it is up"
    ]
    assert not run.report_dir.exists()


@pytest.mark.parametrize(
    ("target", "error"),
    [("every request outlives the timeout", "ReadTimeout"), ("no request gets an answer", "RemoteProtocolError")],
)
def test_a_target_that_never_answers_is_a_usage_error(tmp_path: Path, target: str, error: str) -> None:
    with UNREACHABLE[target]() as server:
        run = run_suite(_args(server.url), tmp_path / "reports", ENV_CREDENTIALS)
    assert_cannot_reach(run, server.url, error)


def test_a_refused_connection_is_a_usage_error(tmp_path: Path) -> None:
    with refused_url() as url:
        run = run_suite(_args(url), tmp_path / "reports", ENV_CREDENTIALS)
    assert_cannot_reach(run, url, "ConnectError")
