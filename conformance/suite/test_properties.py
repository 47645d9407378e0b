"""The targeted properties: one test per registered check, named after it (`-k repeat_delete`)."""

from __future__ import annotations

import pytest

from conformance import properties  # noqa: F401  (registers the checks)
from conformance.checks import CHECKS, Check, Context


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(c, id=c.name, marks=pytest.mark.husky(layer="properties", requirements=c.requirements))
        for c in CHECKS.values()
    ],
)
def test_property(check: Check, husky: Context) -> None:
    check.run(husky)
