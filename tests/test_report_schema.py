"""The typed report and its published schema: `specs/report.schema.json` is the one the dataclasses
make, lists every field they have, is a valid JSON Schema, and `from_json` refuses what it does not
describe. (Real reports are checked against it where they are made: `tests/test_shards.py` for a
single run, shards and their merge, `tests/test_parallel.py` for a parallel run.)"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from suite_runs import REPORT_SCHEMA, assert_fits_schema

from conformance.contract._resources import spec_path
from conformance.contract.requirements import REQUIREMENTS
from conformance.layers.results import Dimensions, FailureRecord
from conformance.run.report_data import Ledger, Leftover, Report, RequirementResult, Shard
from conformance.run.report_schema import schema

ROOT = Path(__file__).resolve().parent.parent
TYPES = (Report, RequirementResult, FailureRecord, Dimensions, Ledger, Leftover, Shard)


def test_the_published_schema_is_the_one_the_dataclasses_make() -> None:
    published = json.loads((ROOT / "specs" / "report.schema.json").read_text(encoding="utf-8"))
    assert published == schema(), "write it again: python -m conformance.run.report_schema > specs/report.schema.json"
    assert published == REPORT_SCHEMA
    assert json.loads(spec_path("report.schema.json").read_text(encoding="utf-8")) == published  # shipped


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(REPORT_SCHEMA)


@pytest.mark.parametrize("kind", TYPES, ids=lambda kind: kind.__name__)
def test_the_schema_lists_every_field_with_a_description(kind: type) -> None:
    definition = REPORT_SCHEMA if kind is Report else REPORT_SCHEMA["$defs"][kind.__name__]
    assert set(definition["properties"]) == {f.name for f in dataclasses.fields(kind)}
    assert all(p["description"] for p in definition["properties"].values())
    assert definition["additionalProperties"] is False


def test_every_dataclass_of_the_report_has_a_definition() -> None:
    def reached(kind: Any, found: set[str]) -> None:
        if dataclasses.is_dataclass(kind) and kind.__name__ not in found:
            found.add(kind.__name__)
            for hint in typing.get_type_hints(kind).values():
                reached(hint, found)
        for arg in typing.get_args(kind):
            reached(arg, found)

    names: set[str] = set()
    reached(Report, names)
    assert names == {kind.__name__ for kind in TYPES}
    assert set(REPORT_SCHEMA["$defs"]) == names - {"Report"}


def _report(**changes: Any) -> Report:
    requirements = tuple(RequirementResult(r.id, r.level, r.statement, r.section, "pass", 1, ()) for r in REQUIREMENTS)
    base = Report(
        verdict="pass",
        verdict_text="PASS",
        target="http://127.0.0.1:9",
        seed=7,
        suite_version="0.1.0",
        contract_version="1.1.0",
        contract="file:///contract.md",
        budget="quick",
        max_requests=2000,
        strict=False,
        requests=10,
        throttled=0,
        rate_limit_per_minute=0.0,
        destructive=True,
        seeder="fixtures",
        duration_s=1.0,
        suite_errors=(),
        ledger=Ledger(2, 1, 0, 0, (Leftover("c1", "a", None, "the target refused"),)),
        leftovers=1,
        requirements=requirements,
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    "report",
    [
        _report(),
        _report(shard=Shard(1, 2), workers=2, ledger=None),
        _report(shards=3, verdict="fail", verdict_text="FAIL", suite_errors=("shard 1/3: boom",)),
    ],
    ids=["plain", "a worker's shard", "merged"],
)
def test_to_json_fits_the_schema_and_reads_back(report: Report) -> None:
    data = report.to_json()
    assert_fits_schema(data)
    assert Report.from_json(json.loads(json.dumps(data))) == report


def test_fields_left_at_their_omit_value_are_not_written() -> None:
    data = _report().to_json()
    assert {"shard", "workers", "shards"}.isdisjoint(data)
    assert {"reason", "out_of_scope"}.isdisjoint(data["requirements"][0])
    assert data["ledger"]["leftovers"] == [{"call_id": "c1", "org": "a", "state": None, "reason": "the target refused"}]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(surprise=1), "unknown field 'surprise'"),
        (lambda d: d.pop("seed"), "missing field 'seed'"),
        (lambda d: d.update(seed="7"), "Report.seed: expected int"),
        (lambda d: d.update(strict=1), "Report.strict: expected bool"),
        (lambda d: d.update(verdict="error"), "Report.verdict: expected one of pass, fail, incomplete"),
        (lambda d: d["requirements"][0].update(checks=True), r"Report.requirements\[0\].checks: expected int"),
        (lambda d: d["requirements"][0].update(failures={}), r"requirements\[0\].failures: expected a list"),
    ],
    ids=["unknown", "missing", "str for int", "int for bool", "verdict", "bool for int", "object for list"],
)
def test_from_json_refuses_what_the_schema_refuses(change: Any, message: str) -> None:
    data = _report().to_json()
    change(data)
    with pytest.raises(ValueError, match=message):
        Report.from_json(data)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, REPORT_SCHEMA)
