"""The typed report: what `report.json` holds, as dataclasses, with `to_json` and `from_json`.

Every report (`report.json`, `summary.md`, `junit.xml`, `report.html`, the terminal's table) is
made from a `Report`; a parallel run's workers and `husky-conformance merge`'s shards are read back
with `Report.from_json` and joined (`conformance.run.merge`). Each field's `doc` is its
description in the published JSON Schema, `specs/report.schema.json` (`conformance.run.report_schema`).
A field with an `omit` value is left out of the JSON when it holds that value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from conformance.layers.results import Dimensions, FailureRecord
from conformance.layers.verdict import Status, Verdict

__all__ = [
    "Dimensions",
    "FailureRecord",
    "Ledger",
    "Leftover",
    "Report",
    "RequirementResult",
    "Shard",
    "from_json",
    "to_json",
]

KEEP = object()  # `omit` of a field always written
T = TypeVar("T")


def doc(text: str, *, omit: object = KEEP) -> dict[str, object]:
    """A field's metadata: its description, and the value that leaves it out of the JSON (if any)."""
    return {"doc": text, "omit": omit}


@dataclass(frozen=True)
class Leftover:
    """A call the suite created and the clean-up could not remove."""

    call_id: str = field(metadata=doc("the call's id"))
    org: str = field(metadata=doc("the organisation (tenant) it belongs to, as the suite names it"))
    state: str | None = field(metadata=doc("its last known state"))
    reason: str = field(metadata=doc("why it is still on the target"))


@dataclass(frozen=True)
class Ledger:
    """What the clean-up did with the calls the suite created (one line each in `ledger.jsonl`)."""

    created: int = field(metadata=doc("calls the suite created"))
    deleted: int = field(metadata=doc("calls the clean-up deleted"))
    cancelled: int = field(metadata=doc("calls the clean-up cancelled (they cannot be deleted)"))
    retained: int = field(metadata=doc("calls cancelled or failed before the clean-up: kept, as the contract has it"))
    leftovers: tuple[Leftover, ...] = field(metadata=doc("calls still on the target, and why"))


@dataclass(frozen=True)
class Shard:
    """Which part of a split run this report is: slice `index` of `count` (`run --shard K/N`)."""

    index: int = field(metadata=doc("K: this run's slice, from 1"))
    count: int = field(metadata=doc("N: how many slices the suite's checks were split into"))


@dataclass(frozen=True)
class RequirementResult:
    """One requirement of the contract and what the run found about it."""

    id: str = field(metadata=doc("the requirement's id, as the contract names it"))
    level: Literal["MUST", "SHOULD"] = field(metadata=doc("MUST gates the verdict; SHOULD only under --strict"))
    statement: str = field(metadata=doc("the rule, in one sentence"))
    section: str = field(metadata=doc("the contract's sections that state it, comma-separated"))
    status: Status = field(metadata=doc("fail: a failure; pass: checked without one; not_exercised: never checked"))
    checks: int = field(metadata=doc("how many times the rule was checked"))
    failures: tuple[FailureRecord, ...] = field(metadata=doc("how it was broken (at most 5, each message once)"))
    reason: str | None = field(
        default=None, metadata=doc("why it was not exercised (only when no check reached it)", omit=None)
    )
    out_of_scope: bool = field(
        default=False, metadata=doc("this run does not judge it (record, replay): no gap in the verdict", omit=False)
    )
    dimensions: Dimensions = field(
        default=Dimensions(),
        metadata=doc("the values of each dimension of the exchanges it was judged on (docs/verdict.md)"),
    )


@dataclass(frozen=True)
class Report:
    """One run's report (or a parallel run's, or merged shards'): the verdict, the settings, the findings."""

    verdict: Verdict = field(metadata=doc("pass (exit 0), fail (1) or incomplete (2)"))
    verdict_text: str = field(metadata=doc("the verdict in words, with the calls left on the target"))
    target: str = field(metadata=doc("the target's base URL (redacted)"))
    seed: int = field(metadata=doc("the seed of all generated input: the same seed sends the same requests"))
    suite_version: str = field(metadata=doc("the version of huskyvoice-conformance that ran"))
    contract_version: str = field(metadata=doc("the version of the contract the suite checked (specs/contract.md)"))
    contract: str = field(metadata=doc("where that contract is: the section column links into it"))
    budget: str = field(metadata=doc("the budget's name: smoke, quick, default, thorough"))
    max_requests: int = field(metadata=doc("the run's request cap (0: none)"))
    strict: bool = field(metadata=doc("SHOULD failures failed the verdict too"))
    requests: int = field(metadata=doc("requests sent to the target"))
    throttled: int = field(metadata=doc("answers 429 Too Many Requests among them"))
    rate_limit_per_minute: float = field(metadata=doc("the pace kept at the target (0: unpaced)"))
    destructive: bool = field(metadata=doc("cancels and deletes were allowed"))
    seeder: str = field(metadata=doc("how calls were made: fixtures, api or pool"))
    duration_s: float = field(metadata=doc("seconds the run took"))
    suite_errors: tuple[str, ...] = field(metadata=doc("the suite's own errors: a run with any cannot pass"))
    ledger: Ledger | None = field(metadata=doc("the clean-up's summary (null: no clean-up ran)"))
    leftovers: int = field(metadata=doc("calls left on the target"))
    requirements: tuple[RequirementResult, ...] = field(metadata=doc("every requirement of the contract, in its order"))
    bundled_mock: bool = field(default=False, metadata=doc("the target was a bundled mock the run started itself"))
    replay: bool = field(default=False, metadata=doc("the run replayed a cassette set (no request reached a target)"))
    shard: Shard | None = field(default=None, metadata=doc("the slice this run was (`run --shard K/N`)", omit=None))
    workers: int | None = field(default=None, metadata=doc("a parallel run's processes (`run --workers N`)", omit=None))
    shards: int | None = field(
        default=None, metadata=doc("how many shards `husky-conformance merge` joined", omit=None)
    )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return from_json(cls, data)


def to_json(value: object) -> Any:
    """`value` as JSON data: dataclasses as objects (their `omit` values left out), tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.metadata.get("omit", KEEP) is KEEP or getattr(value, f.name) != f.metadata["omit"]
        }
    if isinstance(value, (tuple, list)):
        return [to_json(item) for item in value]
    return value


def from_json(kind: type[T], data: Any) -> T:
    """A `kind` (a dataclass) from its JSON data; ValueError where the data does not fit its types."""
    return typing.cast(T, _value(kind, data, kind.__name__))


def _value(kind: Any, data: Any, where: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if dataclasses.is_dataclass(kind):
        return _dataclass(kind, data, where)
    if origin in (types.UnionType, typing.Union):
        if data is None and type(None) in args:
            return None
        return _value(next(a for a in args if a is not type(None)), data, where)
    if origin is tuple:
        if not isinstance(data, list):
            raise ValueError(f"{where}: expected a list, got {data!r}")
        return tuple(_value(args[0], item, f"{where}[{n}]") for n, item in enumerate(data))
    if origin is Literal:
        if data not in args:
            raise ValueError(f"{where}: expected one of {', '.join(map(str, args))}, got {data!r}")
        return data
    return _scalar(kind, data, where)


def _scalar(kind: type, data: Any, where: str) -> Any:
    if kind is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if not isinstance(data, kind) or (kind is int and isinstance(data, bool)):
        raise ValueError(f"{where}: expected {kind.__name__}, got {data!r}")
    return data


def _dataclass(kind: Any, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {data!r}")
    hints = typing.get_type_hints(kind)
    known = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r}")
    values = {}
    for name, spec in known.items():
        if name in data:
            values[name] = _value(hints[name], data[name], f"{where}.{name}")
        elif spec.default is dataclasses.MISSING:
            raise ValueError(f"{where}: missing field {name!r}")
    return kind(**values)
