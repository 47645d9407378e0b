"""The targeted properties: one test per registered check, named after it (`-k repeat_delete`).

Under `--cassettes` (record and replay runs) each check gets its own cassette, named after it;
the fixtures below are pytest-recording's, handed the run's settings (`conformance.cassettes.recording`).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.layers import properties  # noqa: F401  (registers the checks)
from conformance.layers.checks import CHECKS, Check
from conformance.layers.context import Context


@pytest.fixture(scope="module")
def vcr_config(husky_recording: Any) -> dict[str, Any]:
    return husky_recording.vcr_config() if husky_recording else {}


@pytest.fixture(scope="module")
def vcr_cassette_dir(husky_recording: Any) -> str:
    return str(husky_recording.directory) if husky_recording else ""


@pytest.fixture
def default_cassette_name(check: Check) -> str:
    return check.name


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(c, id=c.name, marks=pytest.mark.husky(layer="properties", requirements=c.requirements))
        for c in CHECKS.values()
    ],
)
def test_property(check: Check, husky: Context) -> None:
    check.run(husky)
