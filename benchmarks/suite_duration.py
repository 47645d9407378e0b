"""Time to verdict of `husky-conformance run` against the bundled mock, per budget.

Each budget runs `--repeat` times in a fresh process (the suite starts its own mock each time);
the table gives the median wall time, the requests sent and the verdict. Run: `nox -s bench`
or `python benchmarks/suite_duration.py [--budgets smoke,quick] [--repeat 3]`.
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


def run_once(budget: str) -> tuple[float, int, str, int]:
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "conformance.cli", "run", "--budget", budget, "--report-dir", reports]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        report = json.loads((Path(reports) / "report.json").read_text())
    return wall, report["requests"], report["verdict"], done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="smoke,quick,default,thorough")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'budget':<10} {'wall s (median)':>16} {'requests':>9} {'req/s':>7}  verdict (exit)")
    for budget in args.budgets.split(","):
        runs = [run_once(budget) for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        requests, verdict, code = runs[-1][1], runs[-1][2], runs[-1][3]
        print(f"{budget:<10} {wall:>16.1f} {requests:>9} {requests / wall:>7.0f}  {verdict} ({code})")


if __name__ == "__main__":
    main()
