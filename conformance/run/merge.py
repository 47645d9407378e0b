"""Reports joined into one: a parallel run's workers (`run --workers N`) and the shards of a run
split across machines (`run --shard K/N` on each, then `husky-conformance merge DIR...`).

Checks add up, failures join as one run keeps them, the dimensions covered are the union of the
parts', and the verdict is judged again by the verdict function of a single run
(`conformance.layers.verdict`), so a split run judges as the unsplit one. `merge` refuses, with one
line, folders that are not the shards of one run: another seed, budget, target, suite or contract
version, or a shard missing or given twice.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from conformance.errors import SUITE_FAILED, UsageError
from conformance.layers.verdict import join_failures, judge, status, verdict_text
from conformance.run.report import table, write
from conformance.run.report_data import Dimensions, Ledger, Report, RequirementResult

__all__ = ["AGREE", "NO_CHECK", "check_shards", "join", "join_ledgers", "merge", "read"]

NO_CHECK = "no check reached it"
# What the shards of one run share (the target too, unless each shard started its own bundled mock).
AGREE = ("seed", "budget", "suite_version", "contract_version", "replay", "bundled_mock")


def join(reports: Sequence[Report], *, strict: bool, errors: Sequence[str]) -> Report:
    """One report of the parts of one run, judged again; `errors`: the suite's own, of every part."""
    requirements = tuple(_joined(parts) for parts in zip(*(r.requirements for r in reports), strict=True))
    verdict = judge(
        {r.id: r.status for r in requirements},
        strict=strict,
        out_of_scope={r.id for r in requirements if r.out_of_scope},
        suite_errors=bool(errors),
        replay=any(r.replay for r in reports),
    )
    leftovers = sum(r.leftovers for r in reports)
    return replace(
        reports[0],
        verdict=verdict,
        verdict_text=verdict_text(verdict, leftovers),
        strict=strict,
        requests=sum(r.requests for r in reports),
        throttled=sum(r.throttled for r in reports),
        suite_errors=tuple(errors),
        ledger=_ledger([r.ledger for r in reports]),
        leftovers=leftovers,
        requirements=requirements,
        shard=None,
    )


def _joined(parts: Sequence[RequirementResult]) -> RequirementResult:
    if len({p.id for p in parts}) != 1:
        raise ValueError(f"the reports list other requirements: {sorted({p.id for p in parts})}")
    checks = sum(p.checks for p in parts)
    failures = tuple(join_failures([p.failures for p in parts]))
    why = [p.reason for p in parts if p.reason and p.reason != NO_CHECK]  # a part's own reason beats the default
    return replace(
        parts[0],
        status=status(checks, failures),
        checks=checks,
        failures=failures,
        reason=None if checks else (why[0] if why else NO_CHECK),
        out_of_scope=all(p.out_of_scope for p in parts),
        dimensions=functools.reduce(Dimensions.union, (p.dimensions for p in parts)),
    )


def _ledger(ledgers: Sequence[Ledger | None]) -> Ledger | None:
    present = [ledger for ledger in ledgers if ledger is not None]
    if not present:
        return None
    return Ledger(
        created=sum(ledger.created for ledger in present),
        deleted=sum(ledger.deleted for ledger in present),
        cancelled=sum(ledger.cancelled for ledger in present),
        retained=sum(ledger.retained for ledger in present),
        leftovers=tuple(left for ledger in present for left in ledger.leftovers),
    )


def join_ledgers(directories: Sequence[Path], target: Path) -> None:
    """The parts' `ledger.jsonl` files, one after the other, as `target` (none if no part made a call)."""
    parts = [d / "ledger.jsonl" for d in directories if (d / "ledger.jsonl").exists()]
    if parts:
        target.write_text("".join(p.read_text(encoding="utf-8") for p in parts), encoding="utf-8")


# --- husky-conformance merge -----------------------------------------------------------------


class ShardFailed(Exception):
    """A shard whose run ended with the suite's own failure (exit 3): nothing to merge."""


def read(directory: Path) -> Report:
    """The report in a shard's report folder; UsageError when there is none, ShardFailed for a crash's."""
    path = directory / "report.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{directory} holds no report.json: give the --report-dir of each shard") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path} cannot be read as a report ({error})") from None
    if isinstance(data, dict) and data.get("verdict") == "error":
        raise ShardFailed(f"the shard in {directory} failed itself ({data.get('suite_failed', 'see its report.json')})")
    try:
        return Report.from_json(data)
    except ValueError as error:
        raise UsageError(f"{path} is not a report of this suite: {error}") from None


def check_shards(found: Sequence[tuple[Path, Report]]) -> None:
    """UsageError unless `found` are the shards of one run, each once (any order)."""
    for directory, report in found:
        if report.shard is None:
            raise UsageError(f"{directory} is not a shard's report (made without --shard K/N)")
    keys = [*AGREE, "target"] if not all(r.bundled_mock for _, r in found) else AGREE
    (first, a), *rest = found
    for key in keys:
        for other, b in rest:
            if getattr(a, key) != getattr(b, key):
                raise UsageError(
                    f"{first} and {other} are not shards of one run: they differ in {key}"
                    f" ({getattr(a, key)} and {getattr(b, key)})"
                )
    _check_parts(found)


def _check_parts(found: Sequence[tuple[Path, Report]]) -> None:
    counts = {r.shard.count for _, r in found if r.shard}
    if len(counts) != 1:
        raise UsageError(f"the shards split the suite different ways ({' and '.join(map(str, sorted(counts)))})")
    count = counts.pop()
    seen: dict[int, Path] = {}
    for directory, report in found:
        assert report.shard is not None
        if report.shard.index in seen:
            raise UsageError(
                f"shard {report.shard.index}/{count} is given twice: {seen[report.shard.index]} and {directory}"
            )
        seen[report.shard.index] = directory
    missing = [str(k) for k in range(1, count + 1) if k not in seen]
    if missing:
        which = (
            f"shard {missing[0]} of {count} is" if len(missing) == 1 else f"shards {', '.join(missing)} of {count} are"
        )
        raise UsageError(f"{which} missing: merge needs the report folder of each")


def _total(values: Sequence[float]) -> float:
    """The shards' caps or paces together: their sum, or 0 (none) when one shard had none."""
    return sum(values) if all(values) else 0


def merge(directories: Sequence[Path], out: Path, *, strict: bool) -> int:
    """`husky-conformance merge`: the shards' reports joined into `out`, the table printed; the verdict's exit code."""
    if out.resolve() in {d.resolve() for d in directories}:
        raise UsageError(f"--report-dir {out} is one of the shards' folders: give another")
    try:
        found = sorted(
            ((d, read(d)) for d in directories), key=lambda item: item[1].shard.index if item[1].shard else 0
        )
    except ShardFailed as error:
        print(f"husky-conformance: {error}; run it again, then merge", file=sys.stderr)
        return SUITE_FAILED
    check_shards(found)
    reports = [r for _, r in found]
    errors = [f"shard {r.shard.index}/{r.shard.count}: {e}" for r in reports if r.shard for e in r.suite_errors]
    joined = replace(
        join(reports, strict=strict or any(r.strict for r in reports), errors=errors),
        max_requests=int(_total([r.max_requests for r in reports])),
        rate_limit_per_minute=_total([r.rate_limit_per_minute for r in reports]),
        duration_s=max(r.duration_s for r in reports),
        shards=len(reports),
    )
    out.mkdir(parents=True, exist_ok=True)
    join_ledgers([d for d, _ in found], out / "ledger.jsonl")
    code = write(joined, out)
    print(table(joined, report_dir=out))
    return code
