"""Kill rate: how many of the mock's seeded faults each tool catches, side by side in one run.

For every fault the mock is started with only that fault, and
(a) our suite runs at the default budget (`husky-conformance run`, `--strict` for SHOULD-only
    faults); a fault counts as caught when the verdict fails naming every requirement the fault
    declares;
(b) stock schemathesis runs with every check, every phase including stateful, positive and
    negative generation, the same seed, and credentials from the fixtures API (a key, the
    webhook token, and calls in every state bound to `call_id` through a dictionary, as in
    tests/test_schemathesis.py); a fault counts as caught when `st run` exits 1.
Requests are counted at the mock; seconds are wall time to the verdict.

Run: `nox -s kill-rate` or `python benchmarks/kill_rate.py [--faults a,b] [--jobs 2]`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from conformance.config import DEFAULT_SEED
from conformance.contract._resources import spec_path
from conformance.mock import MockConfig, MockServer
from conformance.mock.faults import FAULTS, Fault
from conformance.target.fixtures_client import FixturesClient

TOKEN = "kill-rate-fixtures-token"
SEEDED = ["queued", "initiated", "ringing", "in_progress", "failed", "cancelled"] + ["completed"] * 8
ST_FAILURE = re.compile(r"^\s*❌ (.+?): \d+\s*$", re.MULTILINE)


class Counted:
    """ASGI middleware counting the HTTP requests a mock receives."""

    def __init__(self, app: Any) -> None:
        self.app, self.count, self._lock = app, 0, threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            with self._lock:
                self.count += 1
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class Outcome:
    caught: bool
    names: list[str]  # requirement ids (ours) or check names (schemathesis)
    requests: int
    seconds: float


def _serve(fault: Fault) -> tuple[MockServer, Callable[[], int]]:
    counter: list[Counted] = []

    def wrap(app: Any) -> Any:
        counter.append(Counted(app))
        return counter[0]

    server = MockServer(MockConfig(fixtures_token=TOKEN, faults=frozenset({fault.name})), wrap=wrap).start()
    return server, lambda: counter[0].count


def ours(fault: Fault) -> Outcome:
    server, requests = _serve(fault)
    try:
        with tempfile.TemporaryDirectory() as reports:
            command = [sys.executable, "-m", "conformance.cli", "run", "--target-url", server.url]
            command += ["--fixtures-token", TOKEN, "--report-dir", reports, "--seed", str(DEFAULT_SEED)]
            started = time.perf_counter()
            done = subprocess.run(command + (["--strict"] if fault.strict else []), capture_output=True, check=False)
            seconds = time.perf_counter() - started
            report = json.loads((Path(reports) / "report.json").read_text())
        failed = sorted(r["id"] for r in report["requirements"] if r["failures"])
        caught = done.returncode == 1 and set(fault.requirements) <= set(failed)
        return Outcome(caught, failed, requests(), seconds)
    finally:
        server.stop()


def _schemathesis_config(directory: Path, url: str) -> str:
    with httpx.Client(base_url=url) as http:
        fixtures = FixturesClient(http, TOKEN)
        org = fixtures.org()
        ids = [fixtures.call(org, status)["call_id"] for status in SEEDED]
        key = fixtures.key(org)
    (directory / "schemathesis.toml").write_text(
        f'seed = {DEFAULT_SEED}\n[generation]\ndatabase = "none"\n'
        f"[dictionaries.call_ids]\nvalues = {json.dumps(ids)}\n"
        f"[dictionaries.tokens]\nvalues = [{json.dumps(org.webhook_token)}]\n"
        '[parameters]\n"path.call_id" = { dictionary = "call_ids", probability = 0.5 }\n'
        '"path.token" = { dictionary = "tokens", probability = 0.8 }\n'
    )
    return key


def stock(fault: Fault) -> Outcome:
    server, requests = _serve(fault)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            key = _schemathesis_config(directory, server.url)
            st = str(Path(sys.executable).with_name("st"))
            command = [st, "--config-file", str(directory / "schemathesis.toml"), "run", str(spec_path())]
            command += ["--url", server.url, "--header", f"Authorization: Bearer {key}", "--checks", "all"]
            command += ["--phases", "examples,coverage,fuzzing,stateful", "--mode", "all", "--no-color"]
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, cwd=directory, check=False)
            seconds = time.perf_counter() - started
        names = sorted(set(ST_FAILURE.findall(done.stdout.split("SUMMARY")[-1])))
        return Outcome(done.returncode == 1, names, requests(), seconds)
    finally:
        server.stop()


def _cell(outcome: Outcome, first: tuple[str, ...] = ()) -> str:
    """✅ and what was named (`first`, the fault's declared requirements, leading), or ❌."""
    if not outcome.caught:
        return "❌"
    lead = [n for n in first if n in outcome.names] or outcome.names[:2]
    rest = len(outcome.names) - len(lead)
    return "✅ " + ", ".join(f"`{n}`" for n in lead) + (f" (+{rest} more)" if rest else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma-separated fault names (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (default 2, one per core)")
    args = parser.parse_args()
    faults = [FAULTS[name] for name in args.faults.split(",")]
    with ThreadPoolExecutor(args.jobs) as pool:
        mine = list(pool.map(ours, faults))
        theirs = list(pool.map(stock, faults))
    columns = ["fault", "caught by ours (requirements)", "caught by schemathesis (checks)"]
    columns += ["ours: requests, s", "schemathesis: requests, s"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|")
    for fault, a, b in zip(faults, mine, theirs, strict=True):
        cost = f"{a.requests}, {a.seconds:.0f} | {b.requests}, {b.seconds:.0f}"
        print(f"| `{fault.name}` | {_cell(a, fault.requirements)} | {_cell(b)} | {cost} |")
    n = len(faults)
    caught_a, caught_b = sum(o.caught for o in mine), sum(o.caught for o in theirs)
    print(
        f"| **kill rate** | **{caught_a}/{n} ({caught_a / n:.0%})** | **{caught_b}/{n} ({caught_b / n:.0%})** | "
        f"{sum(o.requests for o in mine)}, {sum(o.seconds for o in mine):.0f} | "
        f"{sum(o.requests for o in theirs)}, {sum(o.seconds for o in theirs):.0f} |"
    )


if __name__ == "__main__":
    main()
