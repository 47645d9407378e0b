"""Scaling: how the suite's time grows with its budget and with the calls around it, side by side.

Every row is one `husky-conformance run` in a fresh process against a fresh bundled mock
(`MockServer` on a free loopback port, fixtures token), `--repeat` times in turns (the median).
Varied:

- **the budget** (quick, default, thorough): more requests, and more calls the suite makes;
- **calls the suite holds** (default budget): the run starts out with N extra calls of its own in
  its ledger, among its created ids and deleted with their PII, so every later response is checked
  against N more erased calls (`benchmarks/_held_calls.py`, no request sent for them). The run
  sends the same requests as without them: the extra time is bookkeeping per call held;
- **calls in the target's store** (default budget): N calls of another organisation seeded into
  the mock's store before the run.

Milliseconds per request should stay flat down each group: time linear in requests. They are
given for the run itself (report.json's `duration_s`) and for each layer (pytest's `--durations`
of its tests over the requests its checks report), since the layers cost very differently a
request and a budget changes their mix. A row where any of them exceeds its group's first row by
more than `--tolerance`, and that costs the row more than `--noise` seconds (a short layer is
at the mercy of the machine's other load), is flagged SUPERLINEAR.
Run: `nox -s bench` or `python benchmarks/scaling.py [--budgets quick,default,thorough] [--held 0,1000,10000]
[--stored 0,1000,10000] [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from suite_overhead import TOKEN, SuiteRun, run_suite

from conformance.mock import MockConfig, MockServer

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Row:
    group: str
    label: str
    budget: str
    held: int = 0
    stored: int = 0


def _once(row: Row) -> SuiteRun:
    with MockServer(MockConfig(fixtures_token=TOKEN)) as server:
        if row.stored:
            org = server.store.add_org()
            for _ in range(row.stored):
                server.store.add_call(org.org_id, "completed", agent_id="agent_other", contact_number="+919000000001")
        if not row.held:
            return run_suite(server.url, row.budget)
        path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
        env = {"PYTHONPATH": path, "BENCH_HELD_CALLS": str(row.held)}
        return run_suite(server.url, row.budget, env=env, addopts="-p _held_calls")


def _list(text: str) -> list[str]:
    return [word for word in text.split(",") if word]


def _rows(args: argparse.Namespace) -> list[Row]:
    rows = [Row("budget", budget, budget) for budget in _list(args.budgets)]
    rows += [Row("held calls", f"default + {n} held", "default", held=int(n)) for n in _list(args.held)]
    rows += [Row("stored calls", f"default + {n} stored", "default", stored=int(n)) for n in _list(args.stored)]
    return rows


def _per_request(runs: list[SuiteRun]) -> dict[str, float]:
    """Milliseconds per request of the whole run and of each layer (medians over the repeats)."""
    last = runs[-1]
    found = {"run": 1000 * statistics.median(r.run_seconds for r in runs) / last.requests}
    for layer, (count, _) in last.layers.items():
        found[layer] = 1000 * statistics.median(r.layers[layer][1] for r in runs) / count if count else 0.0
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="quick,default,thorough")
    parser.add_argument("--held", default="0,1000,10000", help="extra calls the suite holds (comma-separated)")
    parser.add_argument("--stored", default="0,1000,10000", help="extra calls in the mock's store (comma-separated)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each row, taken in turns (the median)")
    parser.add_argument(
        "--tolerance", type=float, default=0.25, help="flag ms/request this much over the group's first"
    )
    parser.add_argument("--noise", type=float, default=0.5, help="seconds of a row's growth that are never flagged")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; median of {args.repeat}")
    print(f"{'':<58}{'ms per request':^38}")
    print(
        f"{'run':<22} {'requests':>8} {'calls':>6} {'run s':>6} {'wall s':>6}  {'run':>6} {'props':>6} {'schema':>6}"
        f" {'lifecy.':>7} {'vs first':>8}  verdict"
    )
    rows = _rows(args)
    done: dict[Row, list[SuiteRun]] = {row: [] for row in rows}
    for _ in range(args.repeat):  # in turns: a spell of load elsewhere on the machine hits every row alike
        for row in rows:
            done[row].append(_once(row))
    first: dict[str, dict[str, float]] = {}
    for row, runs in done.items():
        last, per = runs[-1], _per_request(runs)
        base = first.setdefault(row.group, per)
        # A change of mix moves the run's figure (the schema layer costs most a request): each layer's own
        # figure is what must stay flat.
        counts = {"run": last.requests} | {layer: count for layer, (count, _) in last.layers.items()}
        grown = {k: per[k] / base[k] for k in per if base[k] and per[k]}
        growth = max(grown.values())
        costly = [
            k for k, g in grown.items() if g > 1 + args.tolerance and (per[k] - base[k]) * counts[k] > 1000 * args.noise
        ]
        flag = f"  SUPERLINEAR ({', '.join(costly)})" if costly else ""
        calls = (last.report.get("ledger") or {}).get("created", 0) - row.held
        wall_s = statistics.median(r.wall_seconds for r in runs)
        run_s = statistics.median(r.run_seconds for r in runs)
        print(
            f"{row.label:<22} {last.requests:>8} {calls:>6} {run_s:>6.1f} {wall_s:>6.1f}  {per['run']:>6.2f}"
            f" {per['properties']:>6.2f} {per['schema']:>6.2f} {per['lifecycle']:>7.2f} {growth:>8.2f}"
            f"  {last.verdict}{flag}"
        )


if __name__ == "__main__":
    main()
