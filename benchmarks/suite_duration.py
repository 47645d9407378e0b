"""Time to verdict of `husky-conformance run` against the bundled mock, per budget.

Each budget runs `--repeat` times in a fresh process (the suite starts its own mock each time);
the table gives the median wall time, the workers, the requests sent and the verdict. Run: `nox -s
bench` or `python benchmarks/suite_duration.py [--budgets smoke,quick] [--repeat 3] [--workers N]`
(without `--workers`, as many as `husky-conformance run` chooses).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(budget: str, workers: str | None) -> tuple[float, int, int, str, int]:
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "conformance.cli", "run", "--budget", budget, "--report-dir", reports]
        command += ["--workers", workers] if workers else []
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        report = json.loads((Path(reports) / "report.json").read_text())
    return wall, report.get("workers") or 1, report["requests"], report["verdict"], done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="smoke,quick,default,thorough")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", help="passed to every run (default: none, the run chooses)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'budget':<10} {'wall s (median)':>16} {'each run':>22} {'workers':>8} {'requests':>9}  verdict (exit)")
    for budget in args.budgets.split(","):
        runs = [run_once(budget, args.workers) for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        each = ", ".join(f"{r[0]:.1f}" for r in runs)
        workers, requests, verdict, code = runs[-1][1:]
        print(f"{budget:<10} {wall:>16.1f} {each:>22} {workers:>8} {requests:>9}  {verdict} ({code})")


if __name__ == "__main__":
    main()
