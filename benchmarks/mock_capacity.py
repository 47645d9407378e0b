"""Mock capacity: throughput and p50/p99 latency of the mock versus Prism, side by side in one run.

The servers run in processes of their own on free loopback ports: the mock as `husky-conformance
mock` (access log on, to /dev/null), Prism 5.14.2 as `prism mock specs/openapi.yaml` (logging
every request, to /dev/null, as it does by default) and once more with `--verboseLevel silent`.
The load comes from `benchmarks/loadgen.py` in one or more further processes (`--procs`), closed
loop: C keep-alive connections, each sending its next request as soon as the last one is answered.

The mix, the same for every server, drawn from the seed: GET of an existing call (40%), cancel of
a queued call (15%), delete of a completed call (15%), webhook call.cancel and call.delete (10%
each), and GET or DELETE of an unknown id (10%). Every cancel and delete names a fresh call,
seeded beforehand through the fixtures API (at concurrency 64, not timed), so every answer of the
mock is known in advance (200, or 404 for unknown ids) and any other one is counted as
unexpected; after each round, a sample of the calls is read back to show the state moved as it
should. Prism has no state and no fixtures API: it gets the same requests with fresh random ids,
and whatever it answers counts.

Each round measures every concurrency on each server in turn (alternating which goes first);
the table gives the medians over the rounds and the median of the per-round throughput ratios.
Then the generator's own ceiling: the same generator against a trivial Starlette app (served as
the mock is) and against a canned-answer asyncio server (no framework at all).

Run: `nox -s mock-capacity [-- OPTIONS]` (also part of `nox -s bench`; both install Prism with npm)
or `python benchmarks/mock_capacity.py [--prism PATH] [--requests N] [--rounds R]
[--concurrency 1,16,64] [--procs P] [--no-ceiling] [--baseline DIR]`. `--baseline` measures a
second mock, served from another checkout of the project (say, `git worktree add --detach DIR
COMMIT`), alongside in the same rounds: a change's cost, under the same noise.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conformance.contract._resources import spec_path
from conformance.mock.server import bind
from conformance.target.fixtures_client import FixturesClient

HERE = Path(__file__).resolve().parent
TOKEN = "mock-capacity-fixtures-token"
SEED = 20261201
MIX = {"get": 40, "cancel": 15, "delete": 15, "hook-cancel": 10, "hook-delete": 10, "not-found": 10}
FRESH = {"cancel": "queued", "hook-cancel": "queued", "delete": "completed", "hook-delete": "completed"}
EXPECTED = {"not-found": 404}  # every other kind: 200
GET_POOL = 64
WARM_UP = 2000
BANNER = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


# --- requests ------------------------------------------------------------------------------------


def raw(port: int, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass
class Target:
    """A server under load: where it listens, its credentials, and (the mock) its seeded calls."""

    name: str
    port: int
    key: str
    token: str
    stateful: bool
    pid: int = 0  # the server's process, whose CPU time a measurement reads
    org_id: str = ""
    get_pool: list[str] = field(default_factory=list)

    def auth(self, rng: random.Random) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if rng.random() < 0.5 else {"x-api-key": self.key}

    def request(self, kind: str, call_id: str, rng: random.Random) -> bytes:
        hook = f"/v1/hooks/{self.token}"
        json_type = {"Content-Type": "application/json"}
        if kind == "get":
            return raw(self.port, "GET", f"/v1/calls/{call_id}", self.auth(rng))
        if kind == "cancel":
            return raw(self.port, "POST", f"/v1/calls/{call_id}/cancel", self.auth(rng))
        if kind == "delete":
            return raw(self.port, "DELETE", f"/v1/calls/{call_id}", self.auth(rng))
        if kind in ("hook-cancel", "hook-delete"):
            action = "call.cancel" if kind == "hook-cancel" else "call.delete"
            return raw(self.port, "POST", hook, json_type, _json({"action": action, "data": {"call_id": call_id}}))
        method = "GET" if rng.random() < 0.5 else "DELETE"  # not-found
        return raw(self.port, method, f"/v1/calls/{call_id}", self.auth(rng))


@dataclass
class Plan:
    requests: list[bytes]
    expected: list[int]  # 0: any answer
    changed: dict[str, str]  # call id -> what the mock must show for it afterwards ("404", "cancelled")


def _fresh_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def kinds(n: int, rng: random.Random) -> list[str]:
    return rng.choices(list(MIX), weights=list(MIX.values()), k=n)


def plan_for(target: Target, drawn: list[str], seeded: dict[str, list[str]] | None, rng: random.Random) -> Plan:
    """The requests of one measurement: `drawn` kinds, with ids from `seeded` or (None) all fresh.

    Without seeded calls (Prism, and every warm-up) every answer counts; with them, the mock's
    answers are known in advance.
    """
    plan = Plan([], [], {})
    for kind in drawn:
        if kind == "get" and target.get_pool:
            call_id = rng.choice(target.get_pool)
        elif kind in FRESH and seeded is not None:
            call_id = seeded[FRESH[kind]].pop()
            plan.changed[call_id] = "cancelled" if FRESH[kind] == "queued" else "404"
        else:
            call_id = _fresh_id(rng)
        plan.requests.append(target.request(kind, call_id, rng))
        plan.expected.append(EXPECTED.get(kind, 200) if seeded is not None else 0)
    return plan


# --- load ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    throughput: float
    p50_ms: float
    p99_ms: float
    statuses: Counter[int]
    unexpected: int
    cpu_us: float  # the server's CPU time (user and system) per request: less noisy than the rate


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (Linux; 0 elsewhere), its threads included."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def load(
    port: int, requests: list[bytes], connections: int, procs: int, *, keep_bodies: bool = False
) -> dict[str, Any]:
    """Run the generator in `procs` processes (each a share of the connections and requests)."""
    procs = max(1, min(procs, connections))
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        runs = []
        for k in range(procs):
            plan_file, out = Path(scratch) / f"plan{k}", Path(scratch) / f"out{k}"
            plan_file.write_bytes(pickle.dumps(requests[k::procs]))
            share = connections // procs + (k < connections % procs)
            command = [sys.executable, str(HERE / "loadgen.py"), "--port", str(port), "--connections", str(share)]
            command += ["--plan", str(plan_file), "--out", str(out)] + (["--keep-bodies"] if keep_bodies else [])
            proc = stack.enter_context(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE))
            runs.append((proc, out))
        for proc, _ in runs:  # every generator has its connections open: go
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != b"ready":
                raise SystemExit("the load generator could not connect")
        for proc, _ in runs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        for proc, _ in runs:
            if proc.wait(timeout=600) != 0:
                raise SystemExit(f"the load generator failed (exit {proc.returncode})")
        parts = [pickle.loads(out.read_bytes()) for _, out in runs]
    merged: dict[str, Any] = {"status": [0] * len(requests), "latency": [0.0] * len(requests), "bodies": None}
    if keep_bodies:
        merged["bodies"] = [b""] * len(requests)
    for k, part in enumerate(parts):
        merged["status"][k::procs] = part["status"]
        merged["latency"][k::procs] = part["latency"]
        if keep_bodies:
            merged["bodies"][k::procs] = part["bodies"]
    merged["seconds"] = max(p["end"] for p in parts) - min(p["start"] for p in parts)
    merged["loop"] = parts[0]["loop"]
    return merged


def measure(target: Target, plan: Plan, connections: int, procs: int) -> Sample:
    cpu = cpu_seconds(target.pid)
    done = load(target.port, plan.requests, connections, procs)
    cpu = cpu_seconds(target.pid) - cpu
    ordered = sorted(done["latency"])
    unexpected = sum(1 for got, want in zip(done["status"], plan.expected, strict=True) if want and got != want)
    return Sample(
        throughput=len(plan.requests) / done["seconds"],
        p50_ms=_percentile(ordered, 0.50) * 1000,
        p99_ms=_percentile(ordered, 0.99) * 1000,
        statuses=Counter(done["status"]),
        unexpected=unexpected,
        cpu_us=cpu / len(plan.requests) * 1e6,
    )


# --- servers -------------------------------------------------------------------------------------


def _free_port() -> int:
    with bind("127.0.0.1", 0) as sock:
        return int(sock.getsockname()[1])


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answered on {url} within {seconds:.0f} s")


@contextmanager
def running(command: list[str], port: int, source: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """`command` serving on `port`; `source`: a checkout whose `conformance` package it imports."""
    env = None if source is None else os.environ | {"PYTHONPATH": str(source)}
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=source, env=env) as proc:
        try:
            _wait_for(f"http://127.0.0.1:{port}/")
            yield proc
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def mock_target(port: int, name: str = "mock", *, pid: int = 0) -> Target:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        fixtures = FixturesClient(http, TOKEN)
        org = fixtures.org()
        target = Target(name, port, fixtures.key(org), org.webhook_token, stateful=True, pid=pid, org_id=org.org_id)
        target.get_pool = [fixtures.call(org, "completed", **_pii(n))["call_id"] for n in range(GET_POOL // 2)]
        target.get_pool += [fixtures.call(org, "in_progress", **_pii(n))["call_id"] for n in range(GET_POOL // 2)]
    return target


def _pii(n: int) -> dict[str, Any]:
    return {
        "contact_number": f"+9198{n:08d}",
        "contact_name": f"Load Test {n}",
        "contact_email": f"load{n}@example.com",
        "additional_info": {"campaign": "capacity"},
    }


def _completed(n: int) -> dict[str, Any]:
    return {
        "transcript": [{"speaker": "agent", "text": f"Hello Load Test {n}."}],
        "recording_url": f"https://recordings.example.com/load-{n}.mp3",
        "duration_seconds": 30,
    }


def seed(target: Target, needed: Counter[str]) -> dict[str, list[str]]:
    """Fresh calls for one measurement, through the fixtures API at concurrency 64 (not timed)."""
    bodies, statuses = [], []
    headers = {"x-fixtures-token": TOKEN, "Content-Type": "application/json"}
    for status, count in needed.items():
        for n in range(count):
            body: dict[str, Any] = {"org_id": target.org_id, "status": status} | _pii(n)
            if status == "completed":
                body |= _completed(n)
            bodies.append(raw(target.port, "POST", "/_fixtures/calls", headers, _json(body)))
            statuses.append(status)
    if not bodies:
        return {}
    done = load(target.port, bodies, 64, 1, keep_bodies=True)
    if set(done["status"]) != {201}:
        raise SystemExit(f"seeding failed: {Counter(done['status'])}")
    seeded: dict[str, list[str]] = {status: [] for status in needed}
    for status, answer in zip(statuses, done["bodies"], strict=True):
        seeded[status].append(re.search(rb'"call_id":"([^"]+)"', answer).group(1).decode())  # type: ignore[union-attr]
    return seeded


def verify(target: Target, changed: dict[str, str], rng: random.Random, sample: int = 200) -> int:
    """Read a sample of the calls the load cancelled or deleted back: how many are not as they must be."""
    wrong = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{target.port}", headers={"x-api-key": target.key}) as http:
        for call_id in rng.sample(sorted(changed), min(sample, len(changed))):
            answer = http.get(f"/v1/calls/{call_id}")
            got = "404" if answer.status_code == 404 else answer.json()["data"]["status"]
            wrong += got != changed[call_id]
    return wrong


# --- trivial servers for the generator's ceiling ------------------------------------------------


def serve_trivial(kind: str, port: int) -> None:
    """A Starlette app of one JSON route under uvicorn as the mock serves, or canned bytes on asyncio."""
    import asyncio

    sock = bind("127.0.0.1", port)
    if kind == "starlette":
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        from conformance.mock.server import UVICORN_OPTIONS

        async def hello(request: Any) -> JSONResponse:
            return JSONResponse({"data": {"call_id": "x", "status": "completed"}})

        app = Starlette(routes=[Route("/{path:path}", hello)])
        uvicorn.Server(uvicorn.Config(app, **UVICORN_OPTIONS)).run(sockets=[sock])
        return
    canned = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'

    class Canned(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport, self.buffer = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:  # every request of the plan has no body
                _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
                self.transport.write(canned)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Canned, sock=sock)
        await server.serve_forever()

    sys.path.insert(0, str(HERE))
    from loadgen import loop_factory

    with asyncio.Runner(loop_factory=loop_factory()[1]) as runner:
        runner.run(main())


def ceiling(requests: int, procs: int) -> list[tuple[str, int, int, float]]:
    rows = []
    for kind in ("canned", "starlette"):
        port = _free_port()
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", kind, str(port)]
        with running(command, port):
            get = raw(port, "GET", "/v1/calls/x", {})
            load(port, [get] * WARM_UP, 16, 1)
            for n in sorted({1, procs}):
                done = load(port, [get] * requests, 64, n)
                rows.append((kind, 64, n, requests / done["seconds"]))
    return rows


# --- the run -------------------------------------------------------------------------------------


def _median(samples: list[Sample], attribute: str) -> float:
    return float(statistics.median(getattr(s, attribute) for s in samples))


def _cells(samples: list[Sample]) -> list[str]:
    latency = f"{_median(samples, 'p50_ms'):.2f} / {_median(samples, 'p99_ms'):.2f}"
    return [f"{_median(samples, 'throughput'):.0f}", latency, f"{_median(samples, 'cpu_us'):.0f}"]


BASELINE = "baseline"

# Prism as `prism mock` runs it (logging every request, as the mock does), and with its logging off.
PRISMS = {"Prism": [], "Prism silent": ["--verboseLevel", "silent"]}


def _prism_command(prism: str, port: int, options: list[str]) -> list[str]:
    return [prism, "mock", "-h", "127.0.0.1", "-p", str(port), *options, str(spec_path())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prism", help="the prism executable (without it Prism is skipped, with a note)")
    parser.add_argument("--requests", type=int, default=6000, help="requests per measurement (default 6000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the table has the medians (default 3)")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--procs", type=int, default=1, help="load generator processes (default 1)")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the generator's own ceiling")
    parser.add_argument("--baseline", type=Path, help="a checkout of the project whose mock is measured too")
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_trivial(args.serve[0], int(args.serve[1]))
        return
    levels = [int(c) for c in args.concurrency.split(",")]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {args.requests} requests a measurement")
    if not args.prism:
        print("note: no --prism given: Prism is not measured, so there are no ratios (nox -s bench installs it)")
    rng = random.Random(SEED)
    results: dict[str, dict[int, list[Sample]]] = {}
    with ExitStack() as stack:
        mock_port = _free_port()
        mock_command = [sys.executable, "-m", "conformance.cli", "mock", "--port", str(mock_port)]
        mock = stack.enter_context(running([*mock_command, "--fixtures-token", TOKEN, "--no-demo"], mock_port))
        targets = [mock_target(mock_port, pid=mock.pid)]
        if args.baseline:
            base_port = _free_port()
            base_command = [sys.executable, "-m", "conformance.cli", "mock", "--port", str(base_port)]
            base_command += ["--fixtures-token", TOKEN, "--no-demo"]
            base = stack.enter_context(running(base_command, base_port, args.baseline.resolve()))
            targets.append(mock_target(base_port, BASELINE, pid=base.pid))
        for name, options in PRISMS.items() if args.prism else ():
            prism_port = _free_port()
            prism = stack.enter_context(running(_prism_command(args.prism, prism_port, options), prism_port))
            targets.append(Target(name, prism_port, "prism-key", "prism-token", stateful=False, pid=prism.pid))
        for target in targets:  # warm-up (JIT, caches): the mix, with unknown ids for cancel and delete
            load(target.port, plan_for(target, kinds(WARM_UP, rng), None, rng).requests, 16, 1)
        wrong = 0
        for round_ in range(args.rounds):
            for level in levels:
                drawn = kinds(args.requests, rng)
                needed = Counter(FRESH[k] for k in drawn if k in FRESH)
                for target in targets if round_ % 2 == 0 else targets[::-1]:
                    seeded = seed(target, needed) if target.stateful else None
                    plan = plan_for(target, drawn, seeded, rng)
                    sample = measure(target, plan, level, args.procs)
                    results.setdefault(target.name, {}).setdefault(level, []).append(sample)
                    if target.stateful:
                        wrong += verify(target, plan.changed, rng)
                    print(
                        f"round {round_ + 1} c={level:<3} {target.name:<12} {sample.throughput:7.0f} req/s  "
                        f"p50 {sample.p50_ms:6.2f} ms  p99 {sample.p99_ms:6.2f} ms  "
                        f"CPU {sample.cpu_us:4.0f} us/req  {dict(sample.statuses)}",
                        flush=True,
                    )
    _table(results, levels, args)
    unexpected = sum(s.unexpected for by_level in results["mock"].values() for s in by_level)
    print(f"mock: {unexpected} unexpected answers; {wrong} calls read back in the wrong state (both must be 0)")
    if not args.no_ceiling:
        print("\nthe load generator's own ceiling (GET, c=64):")
        for kind, _, procs, rate in ceiling(args.requests * 2, args.procs or 1):
            print(f"  {kind:<10} {procs} generator process(es): {rate:7.0f} req/s")


def _table(results: dict[str, dict[int, list[Sample]]], levels: list[int], args: argparse.Namespace) -> None:
    peers = [name for name in (BASELINE, *PRISMS) if name in results]
    print(f"\nmedians of {args.rounds} rounds, {args.procs} generator process(es):")
    columns = ["concurrency", "mock req/s", "mock p50 / p99 ms", "mock CPU us/req"]
    for name in peers:
        columns += [f"{name} req/s", f"{name} p50 / p99 ms", f"{name} CPU us/req", f"mock/{name}"]
    print("| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    for level in levels:
        mine = results["mock"][level]
        cells = _cells(mine)
        for name in peers:
            theirs = results[name][level]
            ratio = statistics.median(a.throughput / b.throughput for a, b in zip(mine, theirs, strict=True))
            cells += [*_cells(theirs), f"**{ratio:.1f}x**"]
        print(f"| {level} | " + " | ".join(cells) + " |")
    for name in peers:
        answers = sum((s.statuses for by_level in results[name].values() for s in by_level), Counter())
        print(f"{name} answered: {', '.join(f'{status}: {n}' for status, n in sorted(answers.items()))}")


if __name__ == "__main__":
    main()
