"""Helpers of the tests that run the conformance suite: serving apps, breaking rules, running the CLI.

Every server here listens on a free 127.0.0.1 port in a background thread and is stopped by its
handle. Suite runs go through the real command line in a process of their own (see `start_suite`),
with an environment that holds only the `HUSKY_*` variables a test passes.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Self

import httpcore  # noqa: F401  (see below)
import jsonschema
import pytest
import uvicorn
from starlette.types import ASGIApp

# An in-process pytest run (pytester) forgets every module it imported. Imported here first, these
# outlive it: the check registry (else a second run finds no checks), and httpcore (else httpx
# maps a second run's connection errors by the first run's classes, and they escape as crashes).
import conformance.suite.test_properties  # noqa: F401
from conformance.layers.results import EXIT_CODES
from conformance.mock import operations, routes
from conformance.mock.errors import ApiError, Code
from conformance.mock.server import bind
from conformance.mock.store import Org, Store

LOOPBACK = "127.0.0.1"
REPORT_SCHEMA: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "specs" / "report.schema.json").read_text(encoding="utf-8")
)
RUN_SECONDS = 120.0
QUICK_PROPERTIES = ("-k", "test_property", "--budget", "quick")


# --- servers -------------------------------------------------------------------------------------


class AppServer:
    """Any ASGI app under a real uvicorn on a free loopback port: `with AppServer(app) as s: s.url`."""

    def __init__(self, app: ASGIApp) -> None:
        self._socket = bind(LOOPBACK, 0)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
            timeout_graceful_shutdown=1,  # a handler still sleeping must not hold up the test
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="test-app-server", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> AppServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive(), "the test server died on start"
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.005)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


class LoopbackTCPServer(socketserver.ThreadingTCPServer):
    """A threaded TCP server on a free loopback port, served from `with` to its end."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[socketserver.BaseRequestHandler]) -> None:
        super().__init__((LOOPBACK, 0), handler)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def __enter__(self) -> Self:
        threading.Thread(target=self.serve_forever, name=type(self).__name__, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class RawServer(LoopbackTCPServer):
    """Raw TCP: each connection's request is read, then `answer(socket, head)` writes whatever it
    likes (slowly, endlessly, malformed); `heads` lists the request heads seen."""

    def __init__(self, answer: Callable[[socket.socket, bytes], None]) -> None:
        super().__init__(_RawHandler)
        self.answer = answer
        self.heads: list[bytes] = []


def read_head(sock: socket.socket) -> tuple[bytes, bytes] | None:
    """A request's head and what of its body came with it; None if the client hung up first."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return head, body


class _RawHandler(socketserver.BaseRequestHandler):
    server: RawServer

    def handle(self) -> None:
        read = read_head(self.request)
        if read is None:
            return
        head = read[0]
        self.server.heads.append(head)
        with contextlib.suppress(OSError):  # the client hung up: what the test wanted, often
            self.server.answer(self.request, head)


@cache
def gzip_bomb(mebibytes: int = 1024) -> bytes:
    """`mebibytes` MiB of zeros, gzipped (about a thousand times smaller): 1 GiB by default. Run-length
    coding at level 1 makes the same size as level 9's default, in 2.6 s instead of 6.4."""
    packer = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS | 16, 9, zlib.Z_RLE)
    zeros = bytes(1 << 20)
    return b"".join([*(packer.compress(zeros) for _ in range(mebibytes)), packer.flush()])


@contextmanager
def refused_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening: connecting is refused, and nobody takes it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"


# --- a mock with broken rules --------------------------------------------------------------------


def _delete_even_when_absent(store: Store, org_id: str, call_id: str, **how: Any) -> dict[str, Any]:
    """MUST broken: a delete of a call that is not there (or not completed) still answers 200."""
    try:
        return _REAL_DELETE(store, org_id, call_id, **how)
    except ApiError as error:
        if error.status != 404:
            raise
        return {"data": {"call_id": call_id, "deleted": True}}


def _cancel_refused_with_400(store: Store, org_id: str, call_id: str, **how: Any) -> dict[str, Any]:
    """SHOULD broken: cancel past queued answers 400 rather than 409 (still a 4xx: the MUST holds)."""
    try:
        return _REAL_CANCEL(store, org_id, call_id, **how)
    except ApiError as error:
        if error.status != 409:
            raise
        raise ApiError(400, Code.VALIDATION_ERROR, "Not cancellable.") from None


def _token_prefix_in_any_case(store: Store, token: str) -> Org:
    """MUST broken: a webhook token is matched by prefix and in any case (a variant gets through)."""
    for known, org in store.orgs_by_token.items():
        if token and known.lower().startswith(token.lower()):
            return org
    raise ApiError(401, Code.UNAUTHORIZED, "Missing or invalid webhook token.")


_REAL_DELETE, _REAL_CANCEL = operations.delete_call, operations.cancel_call
BROKEN_MUSTS = {"DEL-REPEAT-404", "DEL-NOT-FOUND-404", "DEL-NOT-COMPLETED-404", "DEL-GONE", "HOOK-UNKNOWN-TOKEN-401"}
BROKEN_SHOULD = "CANCEL-PAST-QUEUED-409"


@contextmanager
def broken_rules() -> Iterator[None]:
    """While open, every mock of this process breaks delete and webhook MUSTs and a cancel SHOULD."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(operations, "delete_call", _delete_even_when_absent)
        patch.setattr(operations, "cancel_call", _cancel_refused_with_400)
        patch.setattr(routes, "authenticate_token", _token_prefix_in_any_case)
        yield


# --- running the suite ---------------------------------------------------------------------------


def suite_env(variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any HUSKY_* or PYTEST_* variable, plus `variables`.

    Assertion rewriting is off: pytest rewrites every module of every plugin's distribution
    (hypothesis, schemathesis), which costs seconds a run without a bytecode cache, and the suite
    states its rules with `ctx.expect`, not with asserts.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUSKY_", "PYTEST_"))}
    return env | {"PYTEST_ADDOPTS": "--assert=plain"} | dict(variables or {})


KILL_MB = 700  # a run past this is failing anyway: stop it before it takes the machine's memory


class PeakRss:
    """Polls /proc/PID/status while the process lives: its peak resident set (VmHWM), in MB."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mb, self.killed = pid, 0.0, False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="peak-rss", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return  # it has ended
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if "VmHWM" not in fields:
                return  # a zombie: it has ended
            self.peak_mb = max(self.peak_mb, int(fields["VmHWM"].split()[0]) / 1024)
            if self.peak_mb > KILL_MB and not self.killed:
                self.killed = True
                os.kill(self.pid, signal.SIGKILL)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak_mb


@dataclass
class SuiteRun:
    """One finished `husky-conformance run`: its exit code, output and reports."""

    returncode: int
    stdout: str
    stderr: str
    report_dir: Path

    @cached_property
    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.report_dir / "report.json").read_text(encoding="utf-8"))
        return data

    @property
    def requirements(self) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.report["requirements"]}

    def statuses(self, status: str) -> set[str]:
        return {r["id"] for r in self.report["requirements"] if r["status"] == status}

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [f for r in self.report["requirements"] for f in r["failures"]]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"

    def assert_exit_matches_verdict(self) -> None:
        assert self.returncode == EXIT_CODES[self.report["verdict"]], self.describe()


def assert_fits_schema(report: dict[str, Any]) -> None:
    """`report` (a report.json's data) is valid against the published schema, `specs/report.schema.json`."""
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(report)


def assert_no_secrets(run: SuiteRun, secrets: Mapping[str, str]) -> None:
    """No value of `secrets` (name -> secret) in the run's output nor in any file it wrote.

    The run's working directory is the report dir's parent (`start_suite`): every file under it is
    the run's (reports, ledger, plan, anything else it left).
    """
    places = {"stdout": run.stdout.encode(), "stderr": run.stderr.encode()}
    places |= {str(path): path.read_bytes() for path in run.report_dir.parent.rglob("*") if path.is_file()}
    hits = [
        f"{name} in {place}"
        for name, secret in secrets.items()
        for place, data in places.items()
        if secret.encode() in data
    ]
    assert hits == [], f"secrets in the run's output or files: {hits}"


# Runs are forked from a process that has imported the suite once (multiprocessing's forkserver), not
# started anew: a run then costs what the run itself costs, without the interpreter's start and the
# suite's imports (1.5 s of CPU, half a smoke run's). The child enters the command line's `main` with
# the run's arguments, environment, working directory and standard streams, as the console script does.
# A run whose environment sets a variable that the interpreter reads as it starts (PYTHONHASHSEED,
# PYTHONPATH) is a new interpreter, as before: a forked one would not see it.
_PRELOAD = [
    "conformance.cli",
    "conformance.suite.test_lifecycle",
    "conformance.suite.test_properties",
    "conformance.suite.test_schema",
    *(plugin.module for plugin in entry_points(group="pytest11")),
    "warm_caches",
]


@cache
def _forkserver() -> multiprocessing.context.ForkServerContext:
    """The forkserver, started once per test process with the runs' environment (`suite_env`)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    own = dict(os.environ)
    os.environ.clear()
    os.environ.update(suite_env())  # what the preloaded modules may read as they are imported
    os.environ["PYTHONPATH"] = str(Path(__file__).parent)  # `warm_caches` (a forkserver ignores sys.path)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        os.environ.clear()
        os.environ.update(own)
    return context


def _run_cli(argv: list[str], cwd: Path, env: dict[str, str], output: tuple[str, str]) -> None:
    """In the forked child: `husky-conformance ARGV`, its streams into the files `output` names."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in zip((1, 2), output, strict=True):
        os.dup2(os.open(path, os.O_WRONLY | os.O_TRUNC), fd)
    from conformance.cli import main

    sys.exit(main(argv))


@dataclass
class StartedRun:
    """A run under way: its process, its report dir, and the files that take its output."""

    process: multiprocessing.process.BaseProcess | subprocess.Popen[bytes]
    report_dir: Path
    output: tuple[str, str]

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def wait(self, seconds: float) -> int | None:
        """Its exit code, or None if it is still running `seconds` from now."""
        if isinstance(self.process, subprocess.Popen):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(seconds)
            return self.process.returncode
        self.process.join(seconds)
        return self.process.exitcode

    def read(self) -> tuple[str, str]:
        texts = [Path(path).read_text(encoding="utf-8", errors="replace") for path in self.output]
        for path in self.output:
            os.unlink(path)
        return texts[0], texts[1]


def _empty_file(name: str) -> str:
    fd, path = tempfile.mkstemp(prefix=f"husky-run-{name}-")
    os.close(fd)
    return path


def start_suite(args: Sequence[str], report_dir: Path, env: Mapping[str, str] | None = None) -> StartedRun:
    """Start `husky-conformance run ARGS --report-dir REPORT_DIR` (cwd: the report dir's parent)."""
    report_dir.parent.mkdir(parents=True, exist_ok=True)
    output = (_empty_file("stdout"), _empty_file("stderr"))
    argv = ["run", "--report-dir", str(report_dir), *args]
    process: multiprocessing.process.BaseProcess | subprocess.Popen[bytes]
    if any(name.startswith("PYTHON") for name in env or {}):
        with open(output[0], "wb") as stdout, open(output[1], "wb") as stderr:
            command = [sys.executable, "-m", "conformance.cli", *argv]
            process = subprocess.Popen(command, cwd=report_dir.parent, env=suite_env(env), stdout=stdout, stderr=stderr)
    else:
        process = _forkserver().Process(target=_run_cli, args=(argv, report_dir.parent, suite_env(env), output))
        process.start()
    return StartedRun(process, report_dir, output)


def finish_suite(started: StartedRun, seconds: float = RUN_SECONDS) -> SuiteRun:
    returncode = started.wait(seconds)
    if returncode is None:
        started.process.kill()
        started.wait(seconds)
        stdout, _ = started.read()
        raise AssertionError(f"the suite did not finish within {seconds}s:\n{stdout[-2000:]}")
    stdout, stderr = started.read()
    return SuiteRun(returncode, stdout, stderr, started.report_dir)


def run_suite(
    args: Sequence[str], report_dir: Path, env: Mapping[str, str] | None = None, *, seconds: float = RUN_SECONDS
) -> SuiteRun:
    """`husky-conformance run ARGS` in a process of its own, to the end (at most `seconds`)."""
    return finish_suite(start_suite(args, report_dir, env), seconds)


def run_suites(runs: Sequence[tuple[Sequence[str], Path, Mapping[str, str] | None]]) -> list[SuiteRun]:
    """Several runs at once (each against its own target), in the order given."""
    started = [start_suite(args, report_dir, env) for args, report_dir, env in runs]
    return [finish_suite(s) for s in started]
