"""Errors of the target become failures with their request, never tracebacks.

Each target here is a small server of our own on a free loopback port: one that answers 500 to
everything, one that answers 200 with a body that is not JSON, one that outlives the request
timeout, one that hangs up without answering, one that answers a gzip bomb to everything, one
that drips its answers to DELETE a byte at a time. The suite runs against each through the real
CLI with credentials from the environment (there is no fixtures API to seed anything). A fixtures
API that answers nonsense is a usage error instead, naming the route and what was wrong.

Exit codes: a target that answers the suite's reachability probe at all is under test, and what
it gets wrong is a failure (exit 1). A target that never gives an HTTP answer, not even to the
probe, cannot be told apart from a wrong URL, so that is a usage error (exit 4) with one line;
the timing-out and hanging-up targets are run both ways: misbehaving on every request (4), and
only on DELETE (1, each failure carrying the DELETE that got no answer).
"""

from __future__ import annotations

import asyncio
import json
import socket
import socketserver
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
from suite_runs import (
    QUICK_PROPERTIES,
    AppServer,
    LoopbackTCPServer,
    PeakRss,
    RawServer,
    SuiteRun,
    finish_suite,
    gzip_bomb,
    read_head,
    refused_url,
    run_suite,
    start_suite,
)

ENV_CREDENTIALS = {"HUSKY_API_KEY": "k", "HUSKY_WEBHOOK_TOKEN": "t"}
TIMEOUT = 0.5
SLEEP = 5.0  # well past TIMEOUT
DRIP = 0.1  # seconds between the bytes of a dripped answer: each read gets one well within TIMEOUT
MAX_RSS_MB = 300  # what a run may take, hostile answers or not
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
        read = read_head(self.request)
        if read is None:
            return
        head, body = read
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


class HangUpServer(LoopbackTCPServer):
    """Raw TCP: an ASGI server always answers (a crashed app still gets a 500), this one need not."""

    def __init__(self, hang_up_on: set[str]) -> None:
        super().__init__(_HangUp)
        self.hang_up_on = hang_up_on


# --- runs ----------------------------------------------------------------------------------------


class Target(Protocol):
    """A server of this module: a context manager with a URL."""

    @property
    def url(self) -> str: ...

    def __enter__(self) -> Target: ...

    def __exit__(self, *exc: object) -> None: ...


def _not_found(sock: socket.socket) -> None:
    payload = json.dumps(NOT_FOUND).encode()
    sock.sendall(
        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )


def gzip_bombs(sock: socket.socket, head: bytes) -> None:
    """Every answer 200 and 1 GiB of JSON-ish zeros, gzipped to 1 MB."""
    sock.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nConnection: close\r\n"
        + f"Content-Length: {len(gzip_bomb())}\r\n\r\n".encode()
        + gzip_bomb()
    )


def _gzip_bomber() -> RawServer:
    gzip_bomb()  # made before the server answers with it (seconds, once a process: not in the client's time)
    return RawServer(gzip_bombs)


def drips_on_delete(sock: socket.socket, head: bytes) -> None:
    """A DELETE's answer comes a byte every DRIP seconds, for ever; the rest is 404 at once."""
    if not head.startswith(b"DELETE "):
        _not_found(sock)
        return
    sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n")
    deadline = time.monotonic() + SLEEP  # no longer than the test: the client has given up by then
    while time.monotonic() < deadline:
        sock.sendall(b" ")
        time.sleep(DRIP)


UNDER_TEST: dict[str, Callable[[], Target]] = {
    "500 to everything": lambda: AppServer(_app(always_500)),
    "200 with a body that is not JSON": lambda: AppServer(_app(garbage_200)),
    "DELETE outlives the timeout": lambda: AppServer(_app(sleeper({"DELETE"}))),
    "DELETE gets no answer": lambda: HangUpServer({"DELETE"}),
    "a gzip bomb to everything": _gzip_bomber,
    "DELETE drips its answer": lambda: RawServer(drips_on_delete),
}
UNREACHABLE: dict[str, Callable[[], Target]] = {
    "every request outlives the timeout": lambda: AppServer(_app(sleeper(set(METHODS)))),
    "no request gets an answer": lambda: HangUpServer(set(METHODS)),
}


def _args(url: str) -> list[str]:
    return ["--target-url", url, "--timeout", str(TIMEOUT), *QUICK_PROPERTIES]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SuiteRun]]:
    """The suite against every target under test, all runs at once (they take seconds each); each
    run's peak resident set is in `PEAKS`."""
    with ExitStack() as stack:
        servers = {name: stack.enter_context(make()) for name, make in UNDER_TEST.items()}
        base = tmp_path_factory.mktemp("misbehaving")
        started = {
            name: start_suite(_args(s.url), base / f"run{n}" / "reports", ENV_CREDENTIALS)
            for n, (name, s) in enumerate(servers.items())
        }
        watches = {name: PeakRss(run.pid) for name, run in started.items()}
        finished = {name: finish_suite(run) for name, run in started.items()}
        PEAKS.update({name: watch.stop() for name, watch in watches.items()})
        yield finished


PEAKS: dict[str, float] = {}  # target -> the peak resident set of the suite's run against it, in MB


@pytest.mark.parametrize("target", UNDER_TEST)
def test_a_misbehaving_target_fails_with_its_requests(runs: dict[str, SuiteRun], target: str) -> None:
    run = runs[target]
    assert run.returncode == 1, run.describe()
    assert run.report["verdict"] == "fail"
    assert run.report["suite_errors"] == []
    assert run.statuses("fail"), "no requirement failed"
    for failure in run.failures:
        assert "curl -sS -X " in failure["reproduction"], failure
        assert "# replay the run: husky-conformance run --target-url http" in failure["reproduction"]
        assert " --seed " in failure["reproduction"]


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
        ("a gzip bomb to everything", "TENANT-404", "# -> no answer: answer over 4194304 bytes (status 200)"),
        ("DELETE drips its answer", "DEL-NOT-FOUND-404", "# -> no answer: timed out"),
    ],
    ids=["500: no 5xx", "500: envelope", "garbage: 404 expected", "timeout", "hang-up", "gzip bomb", "drip"],
)
def test_the_failure_names_what_came_back(
    runs: dict[str, SuiteRun], target: str, requirement: str, outcome: str
) -> None:
    failures = runs[target].requirements[requirement]["failures"]
    assert failures, f"{requirement} did not fail against {target!r}"
    last_steps = [f["reproduction"].splitlines()[-2] for f in failures]
    assert any(outcome in step for step in last_steps), last_steps


@pytest.mark.parametrize("target", ["DELETE outlives the timeout", "DELETE drips its answer"])
def test_a_timeout_costs_the_timeout_not_the_servers_sleep(runs: dict[str, SuiteRun], target: str) -> None:
    run = runs[target]
    assert any("no answer: timed out" in f["reproduction"] for f in run.failures)
    assert run.report["duration_s"] < SLEEP, "the suite waited for an answer past --timeout"


def test_hostile_answers_cost_bounded_memory(runs: dict[str, SuiteRun]) -> None:
    assert "a gzip bomb to everything" in PEAKS
    worst = max(PEAKS, key=PEAKS.__getitem__)
    assert PEAKS[worst] < MAX_RSS_MB, f"the run against {worst!r} took {PEAKS[worst]:.0f} MB"


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


# --- a fixtures API that answers nonsense: a usage error naming the route and what is wrong --------

ORG = b'{"org_id": "org_1", "webhook_token": "whk_fake_token_1"}'
GOOD = {"orgs": ORG, "keys": b'{"api_key": "sk_fake_key_1"}', "calls": b'{"data": {"call_id": "call_1"}}'}
ROUTES = {"orgs": "/_fixtures/orgs", "keys": "/_fixtures/orgs/org_1/keys", "calls": "/_fixtures/calls"}


def fixtures_api(broken: str, body: bytes) -> Starlette:
    """A target whose fixtures API answers 201 with `body` on the `broken` route, and sense elsewhere."""

    async def answer(request: Request) -> Response:
        route = request.path_params.get("route", "")
        if request.url.path.startswith("/v1/"):
            return JSONResponse(NOT_FOUND, 404)
        return Response(body if route == broken else GOOD[route], 201, media_type="application/json")

    return Starlette(
        routes=[
            Route("/_fixtures/{route:path}", _named(answer), methods=["POST"]),
            Route("/{path:path}", answer, methods=METHODS),
        ]
    )


def _named(answer: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    async def named(request: Request) -> Response:
        path = request.path_params["route"]
        request.path_params["route"] = "keys" if path.endswith("/keys") else path
        return await answer(request)

    return named


@pytest.mark.parametrize(
    ("broken", "body", "problem"),
    [
        ("orgs", b"[]", "a JSON list where an object holding 'org_id' belongs"),
        ("orgs", b"null", "null"),
        ("orgs", b"", "an empty body"),
        ("orgs", b"<html>oops</html>", "a body that is not JSON"),
        ("orgs", b'{"webhook_token": "w"}', "no 'org_id'"),
        ("orgs", b'{"org_id": 7, "webhook_token": "w"}', "'org_id' a JSON number, not a string"),
        ("orgs", b'{"org_id": "o", "webhook_token": ""}', "an empty 'webhook_token'"),
        ("keys", b'{"api_key": null}', "'api_key' a JSON null, not a string"),
        ("keys", b'"sk_bare"', "a JSON string where an object holding 'api_key' belongs"),
        ("calls", b'{"data": []}', "a JSON list where an object holding 'call_id' belongs"),
        ("calls", b'{"call_id": "call_1"}', "no 'data.call_id'"),
        ("calls", '{"data": {"call_id": "c", "contact_name": "Zo\u00eb'.encode(), "JSON cut short or broken"),
    ],
    ids=[
        "org: a list",
        "org: null",
        "org: empty",
        "org: not JSON",
        "org: no org_id",
        "org: org_id a number",
        "org: empty token",
        "key: null",
        "key: a bare string",
        "call: data a list",
        "call: no data",
        "call: cut short",
    ],
)
def test_a_malformed_fixtures_answer_is_a_usage_error(tmp_path: Path, broken: str, body: bytes, problem: str) -> None:
    from conformance.config import build_config
    from conformance.errors import UsageError
    from conformance.http.client import Client
    from conformance.http.redaction import Secrets
    from conformance.target.environment import Environment

    with AppServer(fixtures_api(broken, body)) as server:
        config = build_config(
            target_url=server.url,
            fixtures_token="fixtures-token-value",
            report_dir=str(tmp_path),
            seed=None,
            budget="quick",
            strict=False,
            timeout=TIMEOUT * 4,
            env={},
        )
        client = Client(server.url, timeout=config.timeout, secrets=Secrets())

        def provision_and_seed() -> None:
            env = Environment(client, config, client.secrets)
            env.seed_call(env.a, "completed")

        with pytest.raises(UsageError) as raised:
            provision_and_seed()
        client.close()
    message = str(raised.value)
    assert message.startswith(f"the fixtures API answered POST {ROUTES[broken]} (201) with {problem};"), message
    assert "\n" not in message


def test_a_malformed_fixtures_answer_ends_the_run_in_one_line(tmp_path: Path) -> None:
    with AppServer(fixtures_api("orgs", b"[]")) as server:
        run = run_suite([*_args(server.url), "--fixtures-token", "t0k3n-of-the-fixtures"], tmp_path / "reports")
    assert run.returncode == 4, run.describe()
    assert "Traceback" not in run.output
    (line,) = [line for line in run.stderr.splitlines() if line]  # one line
    assert "the fixtures API answered POST /_fixtures/orgs (201) with a JSON list" in line


def test_a_malformed_seeding_answer_mid_run_stops_it_in_one_line(tmp_path: Path) -> None:
    with AppServer(fixtures_api("calls", b"null")) as server:
        run = run_suite([*_args(server.url), "--fixtures-token", "t0k3n-of-the-fixtures"], tmp_path / "reports")
    assert run.returncode == 4, run.describe()
    assert "Traceback" not in run.output
    assert run.stderr.splitlines() == [
        "husky-conformance: the fixtures API answered POST /_fixtures/calls (201) with null; it must answer a JSON"
        " object holding 'data.call_id' (contract section 8): is --target-url the API's base URL?"
    ]
