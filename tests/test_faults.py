"""The mock's seeded faults: the registry, the CLI, and (marker `faults`, `nox -s faults`) the
matrix that runs the whole suite at the default budget against each fault."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.mock import MockConfig, MockServer, Store
from conformance.mock.faults import FAULTS
from conformance.requirements import by_id

MOCK_SOURCES = sorted((Path(__file__).parents[1] / "conformance" / "mock").glob("*.py"))


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


def _run_suite(target: str, token: str, report_dir: Path, *extra: str) -> tuple[int, dict[str, object], str]:
    command = [sys.executable, "-m", "conformance.cli", "run", "--target-url", target, "--fixtures-token", token]
    done = subprocess.run(
        [*command, "--report-dir", str(report_dir), *extra], capture_output=True, text=True, timeout=600
    )
    report = json.loads((report_dir / "report.json").read_text())
    return done.returncode, report, done.stdout + done.stderr


@pytest.mark.faults
@pytest.mark.parametrize("name", sorted(FAULTS))
def test_the_suite_catches_the_fault(name: str, tmp_path: Path) -> None:
    fault = FAULTS[name]
    token = "fixtures-" + name
    with MockServer(MockConfig(fixtures_token=token, faults=frozenset({name}))) as server:
        code, report, output = _run_suite(server.url, token, tmp_path, *(["--strict"] if fault.strict else []))
    failed = {r["id"] for r in report["requirements"] if r["failures"]}  # type: ignore[union-attr, index]
    assert code == 1, output[-3000:]
    assert set(fault.requirements) <= failed, f"{name}: named {sorted(failed)}, expected {fault.requirements}"
    assert "Traceback" not in output
    assert report["suite_errors"] == []
