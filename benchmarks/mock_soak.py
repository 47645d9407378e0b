"""Mock soak: the mock's memory (RSS) per stored call and under each attack, bounded in time.

Each scenario starts its own `husky-conformance mock --no-demo` (access log to a file), reads its
RSS from /proc before and after the attack, probes it meanwhile with a normal client (a fresh
connection and a GET every 50 ms: the slowest answer is reported), then sends SIGTERM and times
the exit. The access log is searched for a 500 and stderr for a traceback afterwards.

The scenarios (the issue's attacks, at the scale given; `--scale 0.1` for a quick look):
- creates: 50,000 creates of small calls; RSS per stored call; then a fixtures reset.
- max-calls: 40,000 creates against `--max-calls 20000`: the last half get 429.
- info-60k: creates with 60 KB of `additional_info` until the field budget (256 MiB) refuses them;
  once as one string, once as 60 KB of `[[],[],...]` (which parsed would take 1.1 MB a call).
- fake-keys: 60,000 requests under `--rate-limit 60`, each with another 2000-character key.
- big-heads: 100 connections each sending a 5 MB header that never ends.
- idle-conns: 15,000 connections, each with half a request line, held (the client's own file
  descriptors limit it: 20,000 here).
- gone-mid-body and bad-chunks: 3,000 creates whose client leaves after half the body, and 3,000
  chunked DELETEs with a malformed chunk.

Each attack is cut after `--max-seconds` (default 120; the outcome then says so), so that a run is
bounded in time: `nox -s bench` runs it with 60.

Run: `python benchmarks/mock_soak.py [--scale S] [--only NAME,...] [--max-seconds N]` (Linux: /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from loadgen import exchange  # noqa: E402

TOKEN = "mock-soak-fixtures-token"
CLI = [sys.executable, "-c", "import sys; from conformance.cli import main; sys.exit(main())"]
HOST = "127.0.0.1"


class Mock:
    def __init__(self, *flags: str) -> None:
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
        command = [*CLI, "mock", "--port", "0", "--no-demo", "--fixtures-token", TOKEN, *flags]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline().rsplit(":", 1)[1])

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> float:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return float("inf")
        return time.monotonic() - started

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")


def _request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", *(f"{k}: {v}" for k, v in headers.items())]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _fixtures(port: int, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"x-fixtures-token": TOKEN, "Content-Type": "application/json", "Connection": "close"}
    with socket.create_connection((HOST, port)) as sock:
        sock.sendall(_request(method, path, headers, data))
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    _, _, payload = answer.partition(b"\r\n\r\n")
    return json.loads(payload) if payload else None


def _tenant(port: int) -> tuple[str, str]:
    org = _fixtures(port, "POST", "/_fixtures/orgs")
    scopes = ["calls:create", "calls:read", "calls:cancel", "calls:delete"]
    key = _fixtures(port, "POST", f"/_fixtures/orgs/{org['org_id']}/keys", {"scopes": scopes})["api_key"]
    return key, org["webhook_token"]


async def _send_all(port: int, requests: list[bytes], connections: int = 8) -> dict[int, int]:
    """Send `requests` over `connections` keep-alive connections; the count of each status."""
    statuses: dict[int, int] = {}
    queue = iter(requests)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        for request in queue:
            status, _, closes = await exchange(reader, writer, request)
            statuses[status] = statuses.get(status, 0) + 1
            if closes:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return statuses


PROBE = """
import socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
head = "GET /v1/calls/nope HTTP/1.1\\r\\nHost: h\\r\\nConnection: close\\r\\n"
request = (head + f"Authorization: Bearer {key}\\r\\n\\r\\n").encode()
print("ready", flush=True)
while sys.stdin.readline():  # one probe per line; EOF ends it
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)
            answer = sock.recv(65536)
        ok = answer[:10] == b"HTTP/1.1 4" or answer[:10] == b"HTTP/1.1 2"
    except OSError:
        ok = False
    print(time.perf_counter() - started if ok else -1, flush=True)
"""


class Probe:
    """A normal client, meanwhile, in a process of its own: a fresh connection and a GET every 50 ms.

    Any answer but a 5xx counts (under `--rate-limit` its own key is throttled too); its slowest is reported.
    """

    def __init__(self, port: int, key: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PROBE, str(port), key], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"
        self.times: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        assert self.proc.stdout is not None
        assert self.proc.stdin is not None
        while not self._stop.wait(0.05):
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
            seconds = float(self.proc.stdout.readline())
            if seconds >= 0:
                self.times.append(seconds)
            else:
                self.failures += 1

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()

    def summary(self) -> str:
        if not self.times:
            return f"no answer ({self.failures} failed)"
        worst, median = max(self.times) * 1000, statistics.median(self.times) * 1000
        failed = f", {self.failures} failed" if self.failures else ""
        return f"{len(self.times)} probes, median {median:.1f} ms, worst {worst:.1f} ms{failed}"


# --- attacks -----------------------------------------------------------------------------------------

Attack = Callable[[Mock, str, str, float], Coroutine[Any, Any, str]]
CREATE = {"agent_id": "agent_soak", "contact_number": "+919000000000"}


def _creates(key: str, count: int, info: Any = None) -> list[bytes]:
    body = json.dumps({**CREATE, "additional_info": info} if info is not None else CREATE).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return [_request("POST", "/v1/calls", headers, body)] * count


async def creates(mock: Mock, key: str, hook: str, scale: float) -> str:
    count = int(50_000 * scale)
    before = mock.rss_mb()
    statuses = await _send_all(mock.port, _creates(key, count))
    after = mock.rss_mb()
    _fixtures(mock.port, "POST", "/_fixtures/reset")
    reset = mock.rss_mb()
    per_call = (after - before) * 1024 * 1024 / max(1, statuses.get(201, 0))
    return f"{statuses}; {per_call:.0f} B per stored call; after reset {reset:.0f} MB (the allocator keeps its pages)"


async def max_calls(mock: Mock, key: str, hook: str, scale: float) -> str:
    statuses = await _send_all(mock.port, _creates(key, int(40_000 * scale)))
    return f"{statuses}"


async def info_string(mock: Mock, key: str, hook: str, scale: float) -> str:
    count = int(6_000 * scale)
    return f"{await _send_all(mock.port, _creates(key, count, {'x': 'a' * 60_000}))}"


async def info_lists(mock: Mock, key: str, hook: str, scale: float) -> str:
    count = int(6_000 * scale)
    return f"{await _send_all(mock.port, _creates(key, count, {'x': [[] for _ in range(15_000)]}))}"


async def fake_keys(mock: Mock, key: str, hook: str, scale: float) -> str:
    requests = [
        _request("GET", "/v1/calls/nope", {"Authorization": f"Bearer fake{n:01996d}"})
        for n in range(int(60_000 * scale))
    ]
    return f"{await _send_all(mock.port, requests)}"


async def big_heads(mock: Mock, key: str, hook: str, scale: float) -> str:
    piece = b"a" * 65536

    async def one() -> bytes:
        reader, writer = await asyncio.open_connection(HOST, mock.port)
        writer.write(b"GET /v1/calls/x HTTP/1.1\r\nHost: h\r\nX-Big: ")
        try:
            for _ in range(80):  # 5 MB
                writer.write(piece)
                await writer.drain()
        except ConnectionError:
            pass
        try:
            answer = (await reader.read(12))[9:12]
        except ConnectionError:
            answer = b"reset"  # the refusal crossed the rest of the header
        writer.close()
        return answer

    answers = await asyncio.gather(*(one() for _ in range(max(1, int(100 * scale)))))
    return f"answers {sorted(set(answers))}"


async def idle_conns(mock: Mock, key: str, hook: str, scale: float) -> str:
    held: list[socket.socket] = []
    refused = 0
    for _ in range(int(15_000 * scale)):
        try:
            sock = socket.create_connection((HOST, mock.port), timeout=5)
            sock.sendall(b"GET /v1/calls/x HT")
            held.append(sock)
        except OSError:
            refused += 1
    await asyncio.sleep(1)
    closed = 0
    for sock in held:
        sock.setblocking(False)
        try:
            closed += sock.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        sock.close()
    return f"{len(held)} held, {closed} closed by the mock (made room), {refused} refused"


async def gone_mid_body(mock: Mock, key: str, hook: str, scale: float) -> str:
    head = f"POST /v1/calls HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {key}\r\nContent-Length: 1000\r\n\r\n{{"
    for _ in range(int(3_000 * scale)):
        _, writer = await asyncio.open_connection(HOST, mock.port)
        writer.write(head.encode())
        await writer.drain()
        writer.close()
    return "sent"


async def bad_chunks(mock: Mock, key: str, hook: str, scale: float) -> str:
    statuses: dict[int, int] = {}
    for path in ("/v1/calls", f"/v1/hooks/{hook}", "/v1/calls/x"):
        request = (
            f"{'DELETE' if path.endswith('/x') else 'POST'} {path} HTTP/1.1\r\nHost: h\r\n"
            f"Authorization: Bearer {key}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        ).encode()
        for status, count in (await _send_all(mock.port, [request] * int(1_000 * scale))).items():
            statuses[status] = statuses.get(status, 0) + count
    return f"{statuses}"


SCENARIOS: dict[str, tuple[Attack, tuple[str, ...]]] = {
    "creates": (creates, ()),
    "max-calls": (max_calls, ("--max-calls", "20000")),
    "info-60k-string": (info_string, ()),
    "info-60k-lists": (info_lists, ()),
    "fake-keys": (fake_keys, ("--rate-limit", "60")),
    "big-heads": (big_heads, ()),
    "idle-conns": (idle_conns, ()),
    "gone-mid-body": (gone_mid_body, ()),
    "bad-chunks": (bad_chunks, ()),
}


async def _bounded(attack: Coroutine[Any, Any, str], seconds: float) -> str:
    try:
        return await asyncio.wait_for(attack, seconds)
    except TimeoutError:
        return f"cut after {seconds:g} s"


def run(name: str, scale: float, max_seconds: float = 120) -> dict[str, Any]:
    attack, flags = SCENARIOS[name]
    mock = Mock(*flags)
    try:
        key, hook = _tenant(mock.port)
        before = mock.rss_mb()
        started = time.monotonic()
        with Probe(mock.port, key) as probe:
            outcome = asyncio.run(_bounded(attack(mock, key, hook, scale), max_seconds))
        seconds = time.monotonic() - started
        after = mock.rss_mb()
    finally:
        stop = mock.stop()
    log = mock.log_text()
    return {
        "scenario": name,
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "seconds": round(seconds, 1),
        "outcome": outcome,
        "normal_client": probe.summary(),
        "sigterm_s": round(stop, 2),
        "500s_logged": log.count('"status": 500'),
        "tracebacks": log.count("Traceback"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="the attacks' sizes, times S (default 1)")
    parser.add_argument("--only", help="comma-separated scenario names (default: all)")
    parser.add_argument("--max-seconds", type=float, default=120, help="each attack is cut after this (default 120)")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(SCENARIOS)
    print("| scenario | RSS before MB | RSS after MB | s | outcome | normal client | SIGTERM s | 500s | tracebacks |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        r = run(name, args.scale, args.max_seconds)
        print(
            f"| {r['scenario']} | {r['rss_before_mb']} | {r['rss_after_mb']} | {r['seconds']} | {r['outcome']} |"
            f" {r['normal_client']} | {r['sigterm_s']} | {r['500s_logged']} | {r['tracebacks']} |",
            flush=True,
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
