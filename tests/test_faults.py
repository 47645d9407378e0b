"""The mock's seeded faults: the registry, the CLI, and (marker `faults`, `nox -s faults`) the
matrix that runs the whole suite against each fault, at the default budget or at the one
`HUSKY_FAULTS_BUDGET` names (`HUSKY_FAULTS_BUDGET=smoke`: the staging run's budget)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from suite_runs import run_suite

from conformance.cli import main
from conformance.contract.requirements import by_id
from conformance.mock import MockConfig, MockServer, Store
from conformance.mock.faults import FAULTS

MOCK_SOURCES = sorted((Path(__file__).parents[1] / "conformance" / "mock").glob("*.py"))
MATRIX_BUDGET = os.environ.get("HUSKY_FAULTS_BUDGET", "default")  # the matrix's --budget


def test_there_are_at_least_thirty_faults_each_naming_real_requirements() -> None:
    assert len(FAULTS) >= 30
    for fault in FAULTS.values():
        assert fault.requirements, fault.name
        levels = {by_id(r).level for r in fault.requirements}  # KeyError for an unknown id
        assert ("MUST" in levels) != fault.strict, f"{fault.name}: strict faults are exactly the SHOULD-only ones"


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_every_fault_is_coded_beside_its_rule(name: str) -> None:
    """Each fault is a branch in the mock's rules (`store.fault("name")`), not a registry entry only."""
    uses = [p.name for p in MOCK_SOURCES if p.name != "faults.py" and f'"{name}"' in p.read_text()]
    assert uses, f"{name} is registered but no rule checks it"


def test_unknown_fault_names_are_refused() -> None:
    store = Store()
    with pytest.raises(KeyError, match="no fault named"):
        store.fault("no-such-fault")


def test_list_faults_prints_every_fault_with_its_requirements(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mock", "--list-faults"]) == 0
    out = capsys.readouterr().out
    for fault in FAULTS.values():
        assert re.search(rf"^{re.escape(fault.name)} +{re.escape(fault.description)}", out, re.MULTILINE)
        assert f"breaks {', '.join(fault.requirements)}" in out


def test_an_unknown_fault_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mock", "--fault", "delete-queued", "--fault", "nope"]) == 4
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "nope" in err
    assert "--list-faults" in err


@pytest.mark.faults
@pytest.mark.parametrize("name", sorted(FAULTS))
def test_the_suite_catches_the_fault(name: str, tmp_path: Path) -> None:
    fault = FAULTS[name]
    token = "fixtures-" + name
    strict = ["--strict"] if fault.strict else []
    with MockServer(MockConfig(fixtures_token=token, faults=frozenset({name}))) as server:
        args = ["--target-url", server.url, "--fixtures-token", token, "--budget", MATRIX_BUDGET, *strict]
        run = run_suite(args, tmp_path / "reports", seconds=600)
    failed = {r["id"] for r in run.report["requirements"] if r["failures"]}
    assert run.returncode == 1, run.describe()
    assert set(fault.requirements) <= failed, f"{name}: named {sorted(failed)}, expected {fault.requirements}"
    assert "Traceback" not in run.output
    assert run.report["suite_errors"] == []
    for requirement in run.report["requirements"]:
        for failure in requirement["failures"]:
            _assert_a_complete_reproduction(failure["reproduction"], f"{name}, {requirement['id']}")


def _assert_a_complete_reproduction(text: str, where: str) -> None:
    """At least one request as a curl line with what came back, and the replay line last."""
    lines = text.splitlines()
    assert any(line.startswith("curl ") and " # -> " in line for line in lines), f"{where}: no request in\n{text}"
    assert lines[-1].startswith("# replay the run: husky-conformance run "), f"{where}: no replay line in\n{text}"


BARE_404 = re.compile(r"expected (?:\d{3}/)*404(?:/\d{3})* NOT_FOUND.*, got 404(?! [A-Z_]{3,}| with no error code)")


def test_a_missing_error_code_is_said_by_every_layer(tmp_path: Path) -> None:
    """404s without the envelope (`text-errors`): no message says `expected 404 NOT_FOUND, got 404`."""
    token = "fixtures-text-errors"
    with MockServer(MockConfig(fixtures_token=token, faults=frozenset({"text-errors"}))) as server:
        args = ["--target-url", server.url, "--fixtures-token", token, "--budget", "quick"]
        run = run_suite([*args, "-k", "lifecycle-1 or delete_gone"], tmp_path / "reports", seconds=600)
    messages = [f["message"] for f in run.failures]
    gone = [m for m in messages if "GET expected 404 NOT_FOUND, got 404" in m]
    assert len({m.startswith("after ") for m in gone}) == 2, messages  # the lifecycle's and the property's
    assert all(m.endswith("got 404 with no error code (the envelope's error.code is missing)") for m in gone), gone
    assert not [m for m in messages if BARE_404.search(m)], messages
