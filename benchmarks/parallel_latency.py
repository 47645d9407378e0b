"""Time to verdict against a latency-bound target: sequential versus `--workers N`, same seed.

A mock with `--latency MS` (every answer held MS milliseconds) serves on a free loopback port; the
suite runs against it once in one process and once with `--workers N`, side by side in one run.
Printed: both wall times and their ratio (goal: at most 1/3 at 50 ms), and whether the verdict
and every requirement's status are the same. `nox -s bench`, or
`python benchmarks/parallel_latency.py [--latency 50] [--workers 6] [--budget default]`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TOKEN = "bench-" + secrets.token_urlsafe(12)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mock(latency: float) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [sys.executable, "-m", "conformance.cli", "mock", "--port", str(port), "--no-demo"]
    command += ["--fixtures-token", TOKEN, "--latency", f"{latency:g}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the mock did not start")


def _run(url: str, budget: str, workers: int, reports: Path) -> tuple[float, dict[str, Any]]:
    command = [sys.executable, "-m", "conformance.cli", "run", "--target-url", url, "--fixtures-token", TOKEN]
    command += ["--budget", budget, "--workers", str(workers), "--report-dir", str(reports)]
    started = time.monotonic()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=os.environ.copy())
    wall = time.monotonic() - started
    return wall, json.loads((reports / "report.json").read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=50.0, help="milliseconds per answer (default 50)")
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--budget", default="default")
    args = parser.parse_args()
    mock, url = _mock(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sequential = _run(url, args.budget, 1, Path(tmp) / "sequential")
            parallel = _run(url, args.budget, args.workers, Path(tmp) / "parallel")
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    statuses = [{r["id"]: r["status"] for r in report["requirements"]} for _, report in (sequential, parallel)]
    print(f"latency {args.latency:g} ms · budget {args.budget} · {os.cpu_count()} cores")
    print(f"{'run':<14} {'wall s':>8} {'requests':>9}  verdict")
    for name, (wall, report) in (("sequential", sequential), (f"{args.workers} workers", parallel)):
        print(f"{name:<14} {wall:>8.1f} {report['requests']:>9}  {report['verdict']}")
    same = sequential[1]["verdict"] == parallel[1]["verdict"] and statuses[0] == statuses[1]
    differing = sorted(k for k in statuses[0] if statuses[0][k] != statuses[1].get(k))
    print(f"ratio parallel/sequential: {parallel[0] / sequential[0]:.2f} (goal <= 0.33)")
    print(
        f"same verdict and per-requirement statuses: {same}"
        + (f" (differ: {', '.join(differing)})" if differing else "")
    )


if __name__ == "__main__":
    main()
