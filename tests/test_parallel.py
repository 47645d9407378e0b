"""Parallel runs (`--workers N`): the split, the shares of pace and budget, that a parallel run
judges exactly as a sequential one of the same seed, that it is as deterministic per seed, and
that its workers together keep the run's pace at the target."""

from __future__ import annotations

import bisect
import json
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from suite_runs import SuiteRun, assert_fits_schema, run_suite, run_suites

from conformance import cli
from conformance.config import BUDGETS
from conformance.errors import UsageError
from conformance.layers import (
    determinism,
    properties,  # noqa: F401  (registers the checks)
)
from conformance.layers.checks import CHECKS
from conformance.layers.schema import operation_labels
from conformance.mock import MockConfig, MockServer
from conformance.run import parallel as parallel_module
from conformance.run.options import given, suite_config
from conformance.run.parallel import (
    LIFECYCLE_PARTS,
    _worker_words,
    assign,
    auto_workers,
    cost,
    lifecycle_share,
    parse_slice,
    worker_values,
)

LIFECYCLE = [f"lifecycle-{part}" for part in range(1, LIFECYCLE_PARTS + 1)]
ALL_CHECKS = [*CHECKS, *operation_labels(), "test_schema_stateful", *LIFECYCLE]


@pytest.mark.parametrize("budget", ["quick", "default", "thorough"])
def test_the_split_gives_every_check_one_slice_and_balances_them(budget: str) -> None:
    profile = BUDGETS[budget]
    slices = assign(ALL_CHECKS, 3, profile)
    assert set(slices) == set(ALL_CHECKS)
    assert set(slices.values()) == {1, 2, 3}
    loads = [sum(cost(n, profile) for n, k in slices.items() if k == s) for s in (1, 2, 3)]
    assert max(loads) - min(loads) <= max(cost(n, profile) for n in ALL_CHECKS), loads
    assert assign(list(reversed(ALL_CHECKS)), 3, profile) == slices  # the order of collection does not matter


def test_the_lifecycle_parts_share_its_runs() -> None:
    for total in (1, 5, 20, 60):
        shares = [lifecycle_share(total, part) for part in range(1, LIFECYCLE_PARTS + 1)]
        assert sum(shares) == total
        assert max(shares) - min(shares) <= 1


def test_one_worker_is_the_whole_run() -> None:
    assert set(assign(ALL_CHECKS, 1, BUDGETS["default"]).values()) == {1}


def _auto(words: list[str]) -> int:
    values = given(cli._parser().parse_args(["run", *words]))
    return auto_workers(values, suite_config(values, {}))


@pytest.mark.parametrize(
    ("words", "workers"),
    [
        ([], 2),
        (["--budget", "quick"], 2),
        (["--budget", "thorough"], 2),
        (["--budget", "smoke"], 1),
        (["--budget", "800"], 1),  # the smoke profile, capped at 800
        (["-k", "erasure"], 1),
        (["--shard", "1/2"], 1),
        (["--dry-run"], 1),
        (["--target-url", "http://127.0.0.1:9"], 1),
    ],
)
def test_without_workers_only_a_whole_run_of_the_bundled_mock_takes_two(
    words: list[str], workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    assert _auto(words) == workers
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert _auto(words) == 1  # one core: one process


def test_the_command_line_runs_the_workers_it_chose_and_the_ones_asked_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`run` without `--workers` goes parallel with `auto_workers`' number, and with `--workers N` with N."""
    ran: list[int] = []
    monkeypatch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(tmp_path))  # the command line sets it if unset
    monkeypatch.setattr(determinism, "warm_unicode_tables", lambda: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(parallel_module, "run", lambda values, config, workers: ran.append(workers) or 0)
    assert cli.main(["run", "--budget", "quick"]) == 0
    assert cli.main(["run", "--workers", "3"]) == 0
    assert ran == [2, 3]


@pytest.mark.parametrize("text", ["0/2", "3/2", "a/b", "2"])
def test_a_bad_slice_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="K/N"):
        parse_slice(text)


def test_each_worker_gets_its_share_of_the_pace_and_the_budget() -> None:
    config = SimpleNamespace(rate_limit=60.0, max_requests=3000, budget=BUDGETS["default"])
    values = given(SimpleNamespace(seed=7))
    workers = [worker_values(values, k, 3, config, Path(f"r/{k}")) for k in (1, 2, 3)]
    assert [(w["slice"], w["rate_limit"], w["report_dir"]) for w in workers] == [
        (f"{k}/3", "20/min", f"r/{k}") for k in (1, 2, 3)
    ]
    assert {w["seed"] for w in workers} == {7}  # the run's own options go with them
    shares = [w["max_requests"] for w in workers]
    assert 3000 - 3 <= sum(shares) <= 3000  # the budget, shared by the slices' weights
    assert min(shares) > 800
    unpaced = SimpleNamespace(rate_limit=None, max_requests=0, budget=config.budget)
    words = _worker_words(values, 1, 2, unpaced, Path("d"))
    assert _after(words, "--slice") == "1/2"
    assert _after(words, "--rate-limit") == "off"
    assert _after(words, "--report-dir") == "d"
    assert "--max-requests" not in words
    assert words.count("--report-dir") == words.count("--rate-limit") == 1


def _after(words: list[str], flag: str) -> str:
    return words[words.index(flag) + 1]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, SuiteRun]:
    base = tmp_path_factory.mktemp("parallel")
    args = ["--budget", "quick", "--rate-limit", "6000/min"]
    sequential, parallel = run_suites(
        [
            ([*args, "--workers", "1"], base / "sequential" / "reports", None),
            ([*args, "--workers", "3"], base / "parallel" / "reports", None),
        ]
    )
    return sequential, parallel


def test_parallel_and_sequential_runs_judge_alike(both: tuple[SuiteRun, SuiteRun]) -> None:
    sequential, parallel = both
    assert parallel.returncode == sequential.returncode == 0, parallel.describe()
    assert parallel.report["verdict"] == sequential.report["verdict"] == "pass"
    statuses = [{r["id"]: r["status"] for r in run.report["requirements"]} for run in both]
    assert statuses[0] == statuses[1]
    assert parallel.report["workers"] == 3
    assert parallel.report["suite_errors"] == []


def test_the_merged_report_adds_up_the_workers(both: tuple[SuiteRun, SuiteRun]) -> None:
    parallel = both[1]
    workers = [json.loads((parallel.report_dir / "workers" / str(k) / "report.json").read_text()) for k in (1, 2, 3)]
    assert parallel.report["requests"] == sum(w["requests"] for w in workers)
    for index, merged in enumerate(parallel.report["requirements"]):
        assert merged["checks"] == sum(w["requirements"][index]["checks"] for w in workers), merged["id"]
    assert {w["rate_limit_per_minute"] for w in workers} == {2000}  # 6000/min shared three ways
    assert sum(w["max_requests"] for w in workers) <= 2000
    ledger = (parallel.report_dir / "ledger.jsonl").read_text().splitlines()
    assert len([line for line in ledger if '"created"' in line]) == parallel.report["ledger"]["created"]
    assert (parallel.report_dir / "junit.xml").exists()
    assert (parallel.report_dir / "summary.md").exists()
    assert (parallel.report_dir / "report.html").exists()
    lines = [line for line in parallel.stdout.splitlines() if line.startswith("  [")]
    assert len(lines) == 38  # every check once, from whichever worker ran it
    assert parallel.stdout.rstrip().splitlines()[-1].startswith("verdict: PASS (exit 0)")


def test_a_parallel_run_has_the_header_of_a_single_one(both: tuple[SuiteRun, SuiteRun]) -> None:
    sequential, parallel = both
    one = [line for line in sequential.stdout.splitlines() if line.startswith("husky-conformance ")]
    header = parallel.stdout.splitlines()[:3]
    assert header[0] == re.sub(r"target \S+ \(bundled mock\)", "target the bundled mock (one for each worker)", one[0])
    assert header[0].endswith("· seed 20261201 · budget quick (2000 requests)"), header
    after = sequential.stdout.splitlines()[sequential.stdout.splitlines().index(one[0]) + 1]
    assert header[1] == after == "  6000/min · seeder fixtures · cancels and deletes on"
    assert header[2] == f"  3 workers, each a share of the checks: their reports in {parallel.report_dir}/workers/"
    assert sum(line.startswith("husky-conformance ") for line in parallel.stdout.splitlines()) == 1


def test_the_reports_of_both_fit_the_published_schema(both: tuple[SuiteRun, SuiteRun]) -> None:
    sequential, parallel = both
    workers = [json.loads((parallel.report_dir / "workers" / str(k) / "report.json").read_text()) for k in (1, 2, 3)]
    for report in [sequential.report, parallel.report, *workers]:
        assert_fits_schema(report)
    assert [w["shard"] for w in workers] == [{"index": k, "count": 3} for k in (1, 2, 3)]
    assert "shard" not in parallel.report


def test_shards_split_the_checks_as_the_workers_do(tmp_path: Path) -> None:
    """`--shard K/N`: share K of the split `--workers N` makes, its pace and budget share, its report where asked."""
    args = ["--budget", "quick", "--rate-limit", "6000/min", "-k", "test_property"]
    shards = run_suites([([*args, "--shard", f"{k}/2"], tmp_path / f"shard-{k}", None) for k in (1, 2)])
    split = assign(list(CHECKS), 2, BUDGETS["quick"])
    for k, shard in enumerate(shards, 1):
        assert shard.returncode == 2, shard.describe()  # incomplete: the targeted properties alone
        ran = [line.split()[1] for line in shard.stdout.splitlines() if line.startswith("  [properties]")]
        assert sorted(ran) == sorted(name for name, share in split.items() if share == k)
        assert shard.report["rate_limit_per_minute"] == 3000
        assert not (shard.report_dir / "workers").exists()
        assert shard.report["shard"] == {"index": k, "count": 2}  # what `merge` joins
    assert sum(shard.report["max_requests"] for shard in shards) <= 2000


def test_a_dry_run_plans_one_process(tmp_path: Path) -> None:
    run = run_suite(["--workers", "2", "--dry-run"], tmp_path / "reports")
    assert run.returncode == 4
    assert "drop --workers" in run.stderr


def _worker_record(run: SuiteRun, k: int) -> tuple[list[str], int, dict[str, int]]:
    """What worker `k` did: its check lines (check, status, requests), its requests, its checks per requirement."""
    folder = run.report_dir / "workers" / str(k)
    lines = [line for line in (folder / "output.txt").read_text().splitlines() if line.endswith(" requests")]
    report = json.loads((folder / "report.json").read_text())
    # A read racing a delete (concurrent_delete) may come before it (200) or after (404), so the
    # counts of what is judged on one of those only are the race's to decide: the error envelope
    # (4xx and 5xx answers) and ID-NEVER-REUSED (every GET of an own call that answers 200).
    raced = ("ENV-ERROR-ENVELOPE", "ID-NEVER-REUSED")
    counts = {r["id"]: r["checks"] for r in report["requirements"] if r["id"] not in raced}
    return lines, report["requests"], counts


def test_a_parallel_run_is_as_deterministic_per_seed_as_a_sequential_one(tmp_path: Path) -> None:
    """The same seed, in another hash seed: every worker runs the same checks, which send as many
    requests and judge as many times, as in the first run."""
    args = ["--budget", "quick", "--workers", "2", "--seed", "7", "-k", "test_property or lifecycle"]
    first, again = run_suites(
        [
            (args, tmp_path / "first" / "reports", {"PYTHONHASHSEED": "0"}),
            (args, tmp_path / "again" / "reports", {"PYTHONHASHSEED": "1"}),
        ]
    )
    assert first.returncode == again.returncode == 2, first.describe()  # incomplete: no schema layer
    assert first.failures == [], first.describe()
    for k in (1, 2):
        mine, theirs = _worker_record(first, k), _worker_record(again, k)
        assert mine[0], f"worker {k} reported no check"
        assert mine == theirs, f"worker {k} differs"
    assert _worker_record(first, 1)[0] != _worker_record(first, 2)[0]


def test_the_workers_together_keep_the_runs_pace(tmp_path: Path) -> None:
    """600 a minute shared by two workers: no second at the target sees more than about ten requests."""
    arrivals: list[float] = []

    def wrap(app: Any) -> Any:
        async def noted(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                arrivals.append(time.monotonic())
            await app(scope, receive, send)

        return noted

    checks = "repeat_delete or repeat_cancel or unknown_ids or routes_and_methods or create_call"
    with MockServer(MockConfig(fixtures_token="pace-token"), wrap=wrap) as server:
        args = ["--target-url", server.url, "--fixtures-token", "pace-token", "--budget", "quick"]
        run = run_suite([*args, "--workers", "2", "--rate-limit", "600/min", "-k", checks], tmp_path / "reports")
    assert run.failures == [], run.describe()
    assert run.report["suite_errors"] == []
    workers = [json.loads((run.report_dir / "workers" / str(k) / "report.json").read_text()) for k in (1, 2)]
    assert [w["rate_limit_per_minute"] for w in workers] == [300, 300]
    assert all(w["requests"] > 15 for w in workers), "both workers must send for the pace to be shared"
    busiest = max(bisect.bisect_left(arrivals, start + 1.0) - n for n, start in enumerate(arrivals))
    # Ten a second, one over the edge per worker, and one per worker for a loaded machine's jitter
    # at the mock (arrivals are noted when the mock gets to them). Without the share: about 22.
    assert busiest <= 10 + 2 + 2, busiest
