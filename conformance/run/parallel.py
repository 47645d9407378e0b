"""Parallel runs (`husky-conformance run --workers N`): the suite's checks split into N slices, each
run by its own pytest process against the same target, and their reports merged into one.

The split is fixed by the weights below (each check's time at the budget against the bundled
mock), greedily, heaviest first, onto the least loaded slice: the same options always give the
same slices in the same order, so a parallel run is as deterministic per seed as a sequential
one. Each worker provisions its own organisations (with the bundled mock, it starts its own mock),
paces at `--rate-limit` divided by N and may send its slice's share of the budget, so that the run
as a whole keeps both. The merged report has the same format as a sequential run's, plus
`workers`.

A run without `--workers` takes `auto_workers`: two for a whole run of the bundled mock on two
cores or more, else one.
"""

from __future__ import annotations

import json
import os
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
    "auto_workers",
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

# Milliseconds each check takes against the bundled mock at each budget (smoke, quick, default,
# thorough), from `pytest --durations` of the two workers of a run (2026-12-06; smoke: one process);
# only their proportions matter. Time, not requests: a request of the schema layer costs three of a
# targeted property in generation, and `over_time` mostly waits its pause. The lifecycle's parts
# share its figure as they share its runs. A check not listed weighs DEFAULT_COST.
COSTS: dict[str, tuple[int, int, int, int]] = {
    "auth_header_forms": (10, 30, 40, 20),
    "auth_rejections": (30, 210, 240, 160),
    "auth_before_existence": (20, 160, 170, 140),
    "missing_scope": (10, 60, 50, 40),
    "concurrent_delete": (50, 200, 300, 520),
    "concurrent_creates": (10, 20, 40, 80),
    "create_call": (10, 40, 30, 40),
    "idempotent_create": (10, 20, 10, 10),
    "erasure": (10, 30, 20, 20),
    "odd_ids": (20, 120, 220, 220),
    "repeat_delete": (10, 10, 20, 20),
    "repeat_cancel": (10, 20, 10, 20),
    "over_time": (2190, 2060, 1950, 5740),
    "routes_and_methods": (10, 20, 10, 10),
    "every_method": (20, 120, 120, 120),
    "route_variants": (10, 100, 100, 90),
    "cancel_table": (30, 50, 40, 40),
    "delete_refused_states": (30, 40, 40, 30),
    "delete_gone": (10, 20, 20, 20),
    "tenant_isolation": (40, 130, 120, 130),
    "unknown_ids": (10, 20, 10, 20),
    "org_named_in_request": (20, 80, 90, 80),
    "transport_equivalence": (40, 120, 110, 120),
    "webhook_token": (20, 100, 100, 100),
    "webhook_bad_bodies": (20, 40, 40, 40),
    "webhook_create": (10, 10, 10, 10),
    "webhook_action_variants": (10, 80, 80, 80),
    "webhook_invalid_create": (10, 40, 30, 20),
    "POST /v1/calls": (510, 620, 1650, 3830),
    "GET /v1/calls/{call_id}": (60, 420, 870, 2460),
    "DELETE /v1/calls/{call_id}": (50, 220, 900, 2140),
    "POST /v1/calls/{call_id}/cancel": (50, 260, 770, 2280),
    "POST /v1/hooks/{token}": (680, 580, 2000, 4080),
    "test_schema_stateful": (60, 910, 2630, 7340),
    "test_lifecycle": (10, 220, 3240, 15500),
}
BUDGET_COLUMN = {"smoke": 0, "quick": 1, "default": 2, "thorough": 3}
DEFAULT_COST = 100
LIFECYCLE_PARTS = 4  # the lifecycle runs in independent parts, each its own seed and share of the runs
NOTHING_SELECTED = 5  # pytest's "no tests collected": -k left this worker's slice empty


AUTO_WORKERS = 2  # the most a run without --workers starts: measured on this project's 2-core machine


def auto_workers(values: Mapping[str, Any], config: Any) -> int:
    """The workers of a run without `--workers`: one a core, at most AUTO_WORKERS, for a whole run of
    the bundled mock (no -k, --shard nor --dry-run) at the quick budget or more. Otherwise one: a
    target is paced, rate-limited and shared, and a smoke run or one check is as fast in one process
    as a second worker's start and provisioning make it in two."""
    whole = not (values["keyword"] or values["slice"] or config.dry_run)
    if config.target_url is not None or not whole or config.budget.name == "smoke":
        return 1
    return min(AUTO_WORKERS, len(os.sched_getaffinity(0)))


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
    """The weight of one check at `budget`: its time against the bundled mock."""
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
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each progress line in output.txt as it is written
        processes.append(
            (subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True, env=env), output)
        )
    going = _started([process for process, _ in processes], directories)
    if going:
        _header(config, workers, base)
    try:
        codes = _follow([process for process, _ in processes], directories, show=going)
    except KeyboardInterrupt:  # the workers have it too: each ends its run, cleans up and reports
        codes = [process.wait() for process, _ in processes]
    for _, output in processes:
        output.close()
    if USAGE_ERROR in codes:
        text = (directories[codes.index(USAGE_ERROR)] / "output.txt").read_text(encoding="utf-8")
        raise UsageError(next((line.removeprefix("ERROR: ") for line in text.splitlines() if "ERROR" in line), text))
    ran = [(d, code) for d, code in zip(directories, codes, strict=True) if code != NOTHING_SELECTED]
    if not ran:
        raise UsageError("-k selects none of the suite's checks; drop it or widen it")
    data = merge([_report(d, code) for d, code in ran], config, started)
    join_ledgers(directories, base / "ledger.jsonl")
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


def _follow(processes: list[subprocess.Popen[str]], directories: list[Path], *, show: bool) -> list[int]:
    """The workers' exit codes, once all have ended; meanwhile, if `show`, each check's line
    (`  [layer] name  status  requests`) as its worker writes it."""
    shown = [0] * len(directories)
    while True:
        ended = all(process.poll() is not None for process in processes)
        for i, directory in enumerate(directories):
            written = (directory / "output.txt").read_text(encoding="utf-8", errors="replace").split("\n")[:-1]
            lines = [line for line in written if line.startswith("  [")]
            if show and lines[shown[i] :]:
                print("\n".join(lines[shown[i] :]), flush=True)
            shown[i] = len(lines)
        if ended:
            return [process.wait() for process in processes]
        time.sleep(0.1)


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
