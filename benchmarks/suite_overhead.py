"""Suite overhead: the requests per second of `husky-conformance run` against the bundled mock,
versus a plain httpx loop sending the very same requests to the same kind of mock, side by side.

For each budget, `--repeat` times:

1. A fresh mock (`MockServer`: real uvicorn on a free loopback port, with a fixtures token) notes
   every request it receives (method, raw path and query, headers, body) and the status of each
   answer. Its ids, keys and tokens come from a generator seeded alike for every mock, so two
   mocks that receive the same requests in the same order answer alike.
2. `husky-conformance run --target-url URL --fixtures-token T --budget B` runs against it in a
   subprocess. Its rate is report.json's `requests` over its `duration_s` (the run itself) and
   over the process's wall time (start-up, collection and reports included).
3. A second fresh mock, seeded alike, receives the recorded requests again from a plain httpx
   loop in another subprocess: one `httpx.Client`, one request after the other, headers and bodies
   as recorded. That is the raw client's rate; "same answers" is how many statuses the two mocks
   gave alike, in order (the suite's few parallel requests can come in another order).

The ratio suite/raw is what the suite costs on top of HTTP: generation, checks, model, reports.
A second table splits the run by layer (pytest's `--durations` of each layer's tests, and the
requests each check reports): what each layer costs per request, against the same raw rate.
Both clients run in a process of their own; the mocks run in this one (a thread each), one at a time.
Run: `nox -s bench` or `python benchmarks/suite_overhead.py [--budgets quick,default] [--repeat 3]` (the defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import conformance.mock.store
from conformance.mock import MockConfig, MockServer

TOKEN = "suite-overhead-fixtures-token"
DROPPED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})  # httpx sets its own
LAYERS = {"properties": "test_properties.py", "schema": "test_schema.py", "lifecycle": "test_lifecycle.py"}
ITEM_LINE = re.compile(r"^\s+\[(\w+)\s*\].*?(\d+) requests$", re.MULTILINE)  # one per check: layer, requests
DURATION_LINE = re.compile(r"^([\d.]+)s (?:setup|call|teardown)\s+(\S+)", re.MULTILINE)  # pytest --durations


class Recorder:
    """ASGI middleware: every request the app receives (in order of arrival) and the status it got."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        query = scope["query_string"]
        self.requests.append(
            {
                "method": scope["method"],
                "target": (scope["raw_path"] + (b"?" + query if query else b"")).decode("latin-1"),
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
                "body": body.decode("latin-1"),
            }
        )
        replayed = False

        async def replay() -> Any:  # the body once, as read; then whatever comes (a disconnect)
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def note(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.statuses.append(message["status"])
            await send(message)

        await self.app(scope, replay, note)


@contextmanager
def seeded_ids(seed: int = 0) -> Iterator[None]:
    """While open, mocks draw call ids, org ids, keys and tokens from a fresh generator seeded with `seed`."""
    store: Any = conformance.mock.store
    rng = random.Random(seed)
    saved = store.uuid, store._secret

    class Ids:
        @staticmethod
        def uuid4() -> uuid.UUID:
            return uuid.UUID(int=rng.getrandbits(128), version=4)

    store.uuid, store._secret = Ids, lambda prefix: f"{prefix}{rng.getrandbits(192):048x}"
    try:
        yield
    finally:
        store.uuid, store._secret = saved


@contextmanager
def recording_mock() -> Iterator[tuple[MockServer, Recorder]]:
    """A fresh mock with seeded ids, noting what it receives."""
    found: list[Recorder] = []

    def wrap(app: Any) -> Any:
        found.append(Recorder(app))
        return found[0]

    with seeded_ids(), MockServer(MockConfig(fixtures_token=TOKEN), wrap=wrap) as server:
        yield server, found[0]


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without HUSKY_* variables (the suite would read them), plus `extra`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("HUSKY_")} | (extra or {})


@dataclass(frozen=True)
class SuiteRun:
    requests: int
    run_seconds: float  # report.json's duration_s
    wall_seconds: float  # the whole process
    verdict: str
    report: dict[str, Any]
    layers: dict[str, tuple[int, float]]  # layer -> requests, seconds


def _layers(output: str) -> dict[str, tuple[int, float]]:
    """Each layer's requests (the suite's line per check) and seconds (pytest's durations of its tests)."""
    requests = dict.fromkeys(LAYERS, 0)
    for layer, count in ITEM_LINE.findall(output):
        requests[layer] = requests.get(layer, 0) + int(count)
    seconds = dict.fromkeys(LAYERS, 0.0)
    for duration, test in DURATION_LINE.findall(output):
        for layer, module in LAYERS.items():
            seconds[layer] += float(duration) if module in test else 0.0
    return {layer: (requests[layer], seconds[layer]) for layer in LAYERS}


def run_suite(url: str, budget: str, *, env: dict[str, str] | None = None, addopts: str = "") -> SuiteRun:
    """`husky-conformance run` against `url` in a fresh process (`addopts`: more pytest options); its
    report and timings."""
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "conformance.cli", "run", "--target-url", url, "--fixtures-token", TOKEN]
        command += ["--budget", budget, "--report-dir", reports]
        words = [os.environ.get("PYTEST_ADDOPTS", ""), "--durations=0 --durations-min=0", addopts]
        env = (env or {}) | {"PYTEST_ADDOPTS": " ".join(word for word in words if word)}
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=bench_env(env))
        wall = time.perf_counter() - started
        path = Path(reports) / "report.json"
        if not path.exists():
            raise RuntimeError(f"the suite wrote no report (exit {done.returncode}):\n{done.stderr[-2000:]}")
        report = json.loads(path.read_text(encoding="utf-8"))
    layers = _layers(done.stdout)
    return SuiteRun(report["requests"], report["duration_s"], wall, report["verdict"], report, layers)


def replay_requests(url: str, requests: list[dict[str, Any]]) -> tuple[int, float]:
    """Send `requests` to `url` from a plain httpx loop in another process: (requests sent, seconds)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as out:
        json.dump(requests, out)
    try:
        command = [sys.executable, __file__, "--replay", out.name, "--url", url]
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=bench_env())
    finally:
        os.unlink(out.name)
    result = json.loads(done.stdout)
    return result["requests"], result["seconds"]


def _replay_main(path: str, url: str) -> None:
    """The raw client: every request of the file, one after the other, as fast as they go."""
    import httpx

    requests = json.loads(Path(path).read_text(encoding="utf-8"))
    prepared = [
        (
            r["method"],
            r["target"].encode("latin-1"),
            [(k.encode("latin-1"), v.encode("latin-1")) for k, v in r["headers"] if k.lower() not in DROPPED_HEADERS],
            r["body"].encode("latin-1") or None,
        )
        for r in requests
    ]
    base = httpx.URL(url)
    with httpx.Client(timeout=10.0, follow_redirects=False) as client:
        started = time.perf_counter()
        for method, target, headers, body in prepared:
            client.request(method, base.copy_with(raw_path=target), headers=headers, content=body)
        seconds = time.perf_counter() - started
    print(json.dumps({"requests": len(prepared), "seconds": seconds}))


def same_answers(a: list[int], b: list[int]) -> float:
    """The share of positions at which two status sequences agree."""
    return sum(x == y for x, y in zip(a, b, strict=False)) / max(len(a), len(b), 1)


@dataclass(frozen=True)
class Measure:
    requests: int
    suite_run_rate: float
    suite_wall_rate: float
    raw_rate: float
    same: float
    verdict: str
    layers: dict[str, tuple[int, float]]


def measure(budget: str) -> Measure:
    with recording_mock() as (server, recorder):
        suite = run_suite(server.url, budget)
    with recording_mock() as (server, replayed):
        sent, seconds = replay_requests(server.url, recorder.requests)
    return Measure(
        suite.requests,
        suite.requests / suite.run_seconds,
        suite.requests / suite.wall_seconds,
        sent / seconds,
        same_answers(recorder.statuses, replayed.statuses),
        suite.verdict,
        suite.layers,
    )


def _median(runs: list[Measure], pick: Callable[[Measure], float]) -> float:
    return statistics.median(pick(r) for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="quick,default")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each budget (the median)")
    parser.add_argument("--replay", help=argparse.SUPPRESS)  # the raw client's own process
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay:
        _replay_main(args.replay, args.url)
        return
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; median of {args.repeat}")
    print(
        f"{'budget':<9} {'requests':>8} {'suite run/s':>11} {'suite wall/s':>12} {'raw/s':>7}"
        f" {'run/raw':>7} {'wall/raw':>8} {'same answers':>12}  verdict"
    )
    by_layer: dict[str, list[Measure]] = {}
    for budget in args.budgets.split(","):
        runs = by_layer[budget] = [measure(budget) for _ in range(args.repeat)]
        run_rate, wall_rate = _median(runs, lambda r: r.suite_run_rate), _median(runs, lambda r: r.suite_wall_rate)
        raw = _median(runs, lambda r: r.raw_rate)
        ratio_run = _median(runs, lambda r: r.suite_run_rate / r.raw_rate)
        ratio_wall = _median(runs, lambda r: r.suite_wall_rate / r.raw_rate)
        same = min(r.same for r in runs)
        print(
            f"{budget:<9} {runs[-1].requests:>8} {run_rate:>11.0f} {wall_rate:>12.0f} {raw:>7.0f}"
            f" {ratio_run:>7.2f} {ratio_wall:>8.2f} {same:>11.1%}  {runs[-1].verdict}",
            flush=True,
        )
    print(f"\n{'budget':<9} {'layer':<11} {'requests':>8} {'seconds':>7} {'req/s':>6} {'ms/req':>6} {'of raw':>6}")
    for budget, runs in by_layer.items():
        raw = _median(runs, lambda r: r.raw_rate)
        for layer in LAYERS:
            count = runs[-1].layers[layer][0]
            seconds = _median(runs, lambda r, layer=layer: r.layers[layer][1])  # type: ignore[misc]
            rate = count / seconds if seconds else 0.0
            print(
                f"{budget:<9} {layer:<11} {count:>8} {seconds:>7.2f} {rate:>6.0f}"
                f" {1000 / rate if rate else 0:>6.2f} {rate / raw:>6.2f}"
            )


if __name__ == "__main__":
    main()
