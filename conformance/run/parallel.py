"""Parallel runs (`husky-conformance run --workers N`): the suite's checks split into N slices, each
run by its own pytest process against the same target, and their reports merged into one.

The split is fixed by the weights below (each check's requests at the budget against the bundled
mock), greedily, heaviest first, onto the least loaded slice: the same options always give the
same slices in the same order, so a parallel run is as deterministic per seed as a sequential
one. Each worker provisions its own organisations (with the bundled mock, it starts its own mock),
paces at `--rate-limit` divided by N and may send its slice's share of the budget, so that the run
as a whole keeps both. The merged report has the same format as a sequential run's, plus
`workers`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from argparse import ArgumentTypeError
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from conformance.config import Budget
from conformance.errors import SUITE_FAILED, USAGE_ERROR, UsageError  # a worker's usage error or crash is the run's
from conformance.run import options
from conformance.run.merge import join, join_ledgers
from conformance.run.report_data import Report, Shard

__all__ = [
    "LIFECYCLE_PARTS",
    "assign",
    "check_shares",
    "cost",
    "lifecycle_share",
    "merge",
    "parse_slice",
    "run",
    "shard",
    "shares",
    "worker_values",
]

# Requests of each check against the bundled mock at each budget (smoke, quick, default, thorough),
# from `husky-conformance run`'s progress lines; only their proportions matter. The lifecycle's
# parts share its figure as they share its runs. A check not listed weighs DEFAULT_COST.
COSTS: dict[str, tuple[int, int, int, int]] = {
    "auth_header_forms": (5, 15, 15, 15),
    "auth_rejections": (8, 47, 47, 47),
    "auth_before_existence": (12, 124, 124, 124),
    "missing_scope": (7, 25, 25, 25),
    "concurrent_delete": (4, 11, 21, 51),
    "create_call": (5, 11, 11, 11),
    "idempotent_create": (3, 3, 3, 3),
    "erasure": (11, 11, 11, 11),
    "odd_ids": (12, 78, 150, 156),
    "repeat_delete": (4, 4, 4, 4),
    "repeat_cancel": (4, 5, 5, 5),
    "routes_and_methods": (2, 7, 7, 7),
    "route_variants": (5, 69, 69, 69),
    "cancel_table": (16, 28, 28, 28),
    "delete_refused_states": (16, 24, 24, 24),
    "delete_gone": (7, 14, 14, 14),
    "tenant_isolation": (19, 91, 91, 91),
    "unknown_ids": (3, 9, 9, 9),
    "transport_equivalence": (18, 84, 84, 84),
    "webhook_token": (8, 23, 23, 23),
    "webhook_bad_bodies": (7, 22, 22, 22),
    "webhook_create": (2, 2, 2, 2),
    "POST /v1/calls": (4, 137, 224, 431),
    "GET /v1/calls/{call_id}": (3, 40, 121, 367),
    "DELETE /v1/calls/{call_id}": (3, 25, 58, 181),
    "POST /v1/calls/{call_id}/cancel": (3, 32, 77, 293),
    "POST /v1/hooks/{token}": (3, 117, 147, 267),
    "test_schema_stateful": (3, 91, 352, 1179),
    "test_lifecycle": (7, 145, 1355, 5254),
}
BUDGET_COLUMN = {"smoke": 0, "quick": 1, "default": 2, "thorough": 3}
DEFAULT_COST = 10
LIFECYCLE_PARTS = 4  # the lifecycle runs in independent parts, each its own seed and share of the runs
NOTHING_SELECTED = 5  # pytest's "no tests collected": -k left this worker's slice empty


def parse_slice(text: str) -> tuple[int, int]:
    """`K/N` (1 <= K <= N): this process runs slice K of N."""
    try:
        options.k_of_n(text)
    except ArgumentTypeError as error:
        raise UsageError(f"--slice: {error}") from None
    k, _, n = text.partition("/")
    return int(k), int(n)


def shard(text: str) -> Shard:
    """The part of a split run that `--slice K/N` (`run --shard K/N`) makes, as its report names it."""
    return Shard(*parse_slice(text))


def lifecycle_share(total: int, part: int) -> int:
    """Lifecycle part `part`'s share of `total` runs: as even as it goes, the first parts one more."""
    return total // LIFECYCLE_PARTS + (part <= total % LIFECYCLE_PARTS)


def cost(name: str, budget: Budget) -> float:
    """The weight of one check at `budget`: its requests against the bundled mock."""
    column = BUDGET_COLUMN.get(budget.name, 1)
    if name.startswith("lifecycle-"):
        share = lifecycle_share(budget.lifecycle_examples, int(name.removeprefix("lifecycle-")))
        return COSTS["test_lifecycle"][column] * share / max(1, budget.lifecycle_examples)
    return COSTS[name][column] if name in COSTS else DEFAULT_COST


def assign(names: Sequence[str], workers: int, budget: Budget) -> dict[str, int]:
    """Each check's slice (1..workers): heaviest first, onto the least loaded slice (ties: the lowest)."""
    loads = [0.0] * workers
    slices: dict[str, int] = {}
    for name in sorted(names, key=lambda n: (-cost(n, budget), n)):
        lightest = loads.index(min(loads))
        slices[name] = lightest + 1
        loads[lightest] += cost(name, budget)
    return slices


def _names() -> list[str]:
    names = [name for name in COSTS if name != "test_lifecycle"]
    return names + [f"lifecycle-{part}" for part in range(1, LIFECYCLE_PARTS + 1)]


def worker_values(values: Mapping[str, Any], k: int, workers: int, config: Any, directory: Path) -> dict[str, Any]:
    """The options of worker (or `--shard`) K of N: its slice, its share of the pace and of the budget, its reports."""
    rate = f"{config.rate_limit / workers:g}/min" if config.rate_limit else "off"
    share = shares(config, workers)[k - 1] if config.max_requests else None
    own = {"slice": f"{k}/{workers}", "rate_limit": rate, "max_requests": share, "report_dir": str(directory)}
    return {**values, **own, "workers": 1}


def _worker_words(values: Mapping[str, Any], k: int, workers: int, config: Any, directory: Path) -> list[str]:
    return options.pytest_words(worker_values(values, k, workers, config, directory))


def shares(config: Any, workers: int, max_requests: int | None = None) -> list[int]:
    """Each worker's share of the budget's request cap (`max_requests`, else the config's): its slice's weight."""
    slices = assign(_names(), workers, config.budget)
    weights = [sum(cost(n, config.budget) for n, s in slices.items() if s == w) for w in range(1, workers + 1)]
    cap = config.max_requests if max_requests is None else max_requests
    return [int(cap * weight / sum(weights)) for weight in weights]


def check_shares(config: Any, workers: int, smallest: int) -> None:
    """UsageError unless every worker's share holds `smallest` requests (each probes and provisions on its own)."""
    if not config.max_requests or min(shares(config, workers)) >= smallest:
        return
    enough = config.max_requests
    while min(shares(config, workers, enough)) < smallest:
        enough += 1
    raise UsageError(
        f"a budget of {config.max_requests} requests split among {workers} workers is too small for one check"
        f" in each (each needs {smallest}): the smallest that works is --budget {enough}, or fewer --workers"
    )


def run(values: Mapping[str, Any], config: Any, workers: int) -> int:
    """Run the suite with the options' `values` as `workers` slices at once; merge, report, exit."""
    from conformance.run import report

    started = time.monotonic()
    base = Path(config.report_dir)
    directories = [base / "workers" / str(k) for k in range(1, workers + 1)]
    processes = []
    for k, directory in enumerate(directories, 1):
        directory.mkdir(parents=True, exist_ok=True)
        output = (directory / "output.txt").open("w", encoding="utf-8")
        command = [sys.executable, "-m", "pytest", *_worker_words(values, k, workers, config, directory)]
        processes.append((subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True), output))
    if _started([process for process, _ in processes], directories):
        _header(config, workers, base)
    codes = []
    for process, output in processes:
        codes.append(process.wait())
        output.close()
    if USAGE_ERROR in codes:
        text = (directories[codes.index(USAGE_ERROR)] / "output.txt").read_text(encoding="utf-8")
        raise UsageError(next((line.removeprefix("ERROR: ") for line in text.splitlines() if "ERROR" in line), text))
    ran = [(d, code) for d, code in zip(directories, codes, strict=True) if code != NOTHING_SELECTED]
    if not ran:
        raise UsageError("-k selects none of the suite's checks; drop it or widen it")
    data = merge([_report(d, code) for d, code in ran], config, started)
    join_ledgers(directories, base / "ledger.jsonl")
    for directory in directories:
        lines = (directory / "output.txt").read_text(encoding="utf-8").splitlines()
        print("\n".join(line for line in lines if line.startswith("  [")))
    code = report.write(data, base)
    print(report.table(data, report_dir=base))
    return SUITE_FAILED if SUITE_FAILED in codes else code


def _started(processes: list[subprocess.Popen[str]], directories: list[Path]) -> bool:
    """Wait until each worker has started its checks (written its header) or ended: whether the run
    goes on. A usage error of a worker (met at its collection or provisioning) is then the only line."""
    waiting = set(range(len(processes)))
    while waiting:
        for i in sorted(waiting):
            code = processes[i].poll()
            if code == USAGE_ERROR:
                return False
            if code is not None or "\nhusky-conformance " in (directories[i] / "output.txt").read_text("utf-8"):
                waiting.discard(i)
        time.sleep(0.02 if waiting else 0)
    return any(process.poll() != NOTHING_SELECTED for process in processes)


def _header(config: Any, workers: int, base: Path) -> None:
    """A single run's header (`conformance.run.progress.header`), and the workers'."""
    from conformance.config import hide_userinfo
    from conformance.run.progress import header

    target = hide_userinfo(config.target_url) if config.target_url else "the bundled mock (one for each worker)"
    lines = header(config, target, destructive=config.destructive_allowed)
    print("\n".join([*lines, f"  {workers} workers, each a share of the checks: their reports in {base}/workers/"]))
    sys.stdout.flush()


def _report(directory: Path, code: int) -> Report | str:
    """A worker's report, or why it has none."""
    path = directory / "report.json"
    if not path.exists() or code == SUITE_FAILED:
        return f"worker {directory.name} ended with exit {code} and no report ({directory}/output.txt)"
    return Report.from_json(json.loads(path.read_text(encoding="utf-8")))


def merge(reports: list[Report | str], config: Any, started: float) -> Report:
    """One report of the workers' reports (`conformance.run.merge.join`), with the run's pace, budget and time."""
    found = [r for r in reports if isinstance(r, Report)]
    errors = [r for r in reports if isinstance(r, str)]
    errors += [f"worker {i}: {e}" for i, r in enumerate(reports, 1) if isinstance(r, Report) for e in r.suite_errors]
    if not found:
        raise UsageError(errors[0])
    return replace(
        join(found, strict=config.strict, errors=errors),
        workers=len(reports),
        max_requests=config.max_requests,
        rate_limit_per_minute=config.rate_limit or 0.0,
        duration_s=round(time.monotonic() - started, 2),
    )
