"""The dimensions each requirement was judged along, as docs/verdict.md lists them: one table per
budget, made from the `dimensions` of real runs' `report.json` (never written by hand).

Run: `python benchmarks/dimensions_table.py` (a default and a smoke run of the bundled mock, in a
temporary folder), or `python benchmarks/dimensions_table.py --reports DIR...` to tabulate runs
already made. Prints Markdown: paste it under "Dimensions covered" in docs/verdict.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from conformance.layers.results import AXES

BUDGETS = ("default", "smoke")
ALL_FROM = 4  # a cell holding every value the run had along its axis, of at least this many, reads "all N"


def run(budget: str, report_dir: Path) -> dict[str, Any]:
    """`husky-conformance run --budget BUDGET` against the bundled mock; its report."""
    command = ["husky-conformance", "run", "--budget", budget, "--report-dir", str(report_dir)]
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
    return read(report_dir)


def read(report_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    return data


def table(report: dict[str, Any]) -> list[str]:
    """One Markdown table of a run's requirements and the values of each axis."""
    requirements = report["requirements"]
    every = {axis: {v for r in requirements for v in r["dimensions"][axis]} for axis in AXES}
    lines = [
        f"**{report['budget']}** budget, seed {report['seed']}, suite {report['suite_version']}:"
        f" {report['requests']} requests, verdict {report['verdict']}.",
        "",
        "| Requirement | " + " | ".join(axis.replace("_", " ") for axis in AXES) + " |",
        "|---" * (1 + len(AXES)) + "|",
    ]
    for r in requirements:
        cells = [_cell(r["dimensions"][axis], every[axis]) for axis in AXES]
        lines.append(f"| `{r['id']}` | " + " | ".join(cells) + " |")
    return lines


def _cell(values: list[str], every: set[str]) -> str:
    if not values:
        return "–"
    if len(every) >= ALL_FROM and set(values) == every:
        return f"all {len(every)}"
    return ", ".join(values)


def legend(reports: list[dict[str, Any]]) -> list[str]:
    """Every value each axis took in these runs: what "all N" stands for."""
    lines = ["| axis | values in these runs |", "|---|---|"]
    for axis in AXES:
        values = sorted({v for report in reports for r in report["requirements"] for v in r["dimensions"][axis]})
        lines.append(f"| {axis.replace('_', ' ')} | {', '.join(values)} |")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", nargs="*", type=Path, help="report folders of runs already made")
    args = parser.parse_args(argv)
    if args.reports:
        reports = [read(folder) for folder in args.reports]
    else:
        with tempfile.TemporaryDirectory() as folder:
            reports = [run(budget, Path(folder) / budget) for budget in BUDGETS]
    lines = [*legend(reports)]
    for report in reports:
        lines += ["", *table(report)]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
