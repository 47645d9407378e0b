"""The project's own normative contract, `specs/contract.md`: it names every requirement the suite
checks, in the section the catalogue says, and its version is the one every report carries."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import conformance
from conformance.contract._resources import CONTRACT, contract_anchor, contract_version, spec_path
from conformance.contract.requirements import REQUIREMENTS

TEXT = spec_path(CONTRACT).read_text(encoding="utf-8")
SECTIONS = dict(re.findall(r"^## (\d+)\. [^\n]+\n(.*?)(?=^## |\Z)", TEXT, re.MULTILINE | re.DOTALL))


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=lambda r: r.id)
def test_the_contract_names_each_requirement_in_its_sections(
    requirement: conformance.contract.requirements.Requirement,
) -> None:
    for section in requirement.section.split(","):
        assert f"`{requirement.id}`" in SECTIONS[section], f"section {section} does not name {requirement.id}"


def test_the_contract_names_no_requirement_the_suite_does_not_have() -> None:
    named = set(re.findall(r"`([A-Z]+(?:-[A-Z0-9]+)+)`", TEXT))
    assert named - {r.id for r in REQUIREMENTS} == set()


def test_the_contract_version_comes_from_the_file() -> None:
    assert re.search(rf"^Contract version: {re.escape(contract_version())}$", TEXT, re.MULTILINE)
    assert conformance.CONTRACT_VERSION == contract_version() == "1.1.0"


def test_section_anchors_follow_the_headings() -> None:
    assert contract_anchor("5") == "#5-operations"
    assert contract_anchor("6") == "#6-inbound-webhook-post-v1hookstoken"


def test_the_cli_prints_the_contract() -> None:
    done = subprocess.run([sys.executable, "-m", "conformance.cli", "contract"], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, TEXT, "")
