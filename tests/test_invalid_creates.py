"""Invalid create bodies that only a loose check of the contact number lets through (contract 5 and
6, 1.1): each way a real validator slips on `^\\+91[0-9]{10}$` is found, over REST (SHOULD: 400) and
over the webhook (MUST: refused, nothing created)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conformance.config import build_config
from conformance.errors import Failure
from conformance.layers.checks import CHECKS
from conformance.mock import MockConfig, MockServer, routes
from conformance.run.session import SuiteSession

TOKEN = "invalid-creates-fixtures-token"
VALID = "+919800000000"

# How real validators misread the pattern; each takes exactly one of `calls.LOOSE_NUMBERS`.
LOOSE_READINGS: dict[str, Callable[[str], object]] = {
    "the end not anchored": lambda n: re.match(r"\+91[0-9]{10}", n),
    "Python's $ before a final line break": lambda n: re.match(r"^\+91[0-9]{10}$", n),
    "^ and $ at any line": lambda n: re.search(r"^\+91[0-9]{10}$", n, re.MULTILINE),
    "\\d for any script's digits": lambda n: re.fullmatch(r"\+91\d{10}", n),
}


def _loosened(accepts: Callable[[str], object], monkeypatch: pytest.MonkeyPatch) -> None:
    """The mock's create validation (REST and webhook) with `accepts` deciding the contact number."""
    validate = routes.validate

    def loose(pointer: str, instance: Any, **kwargs: Any) -> None:
        data = instance.get("data") if pointer.endswith("WebhookRequest") and isinstance(instance, dict) else instance
        number = data.get("contact_number") if isinstance(data, dict) else None
        if isinstance(number, str) and accepts(number):
            data = {**data, "contact_number": VALID}
            instance = {**instance, "data": data} if pointer.endswith("WebhookRequest") else data
        validate(pointer, instance, **kwargs)

    monkeypatch.setattr(routes, "validate", loose)


@contextmanager
def _session(tmp_path: Path) -> Iterator[SuiteSession]:
    with MockServer(MockConfig(fixtures_token=TOKEN)) as server:
        config = build_config(
            target_url=server.url,
            fixtures_token=TOKEN,
            report_dir=str(tmp_path / "reports"),
            seed=None,
            budget="quick",
            strict=False,
            timeout=5.0,
            env={},
            isolated_target=True,
        )
        suite = SuiteSession.open(config)
        try:
            yield suite
        finally:
            suite.close()


def _failures(suite: SuiteSession, check: str) -> dict[str, list[str]]:
    """Run one check as the plugin does; the failures recorded, by requirement."""
    found = CHECKS[check]
    suite.ctx.begin(found.name, found.requirements)
    try:
        found.run(suite.ctx)
    except Failure as failure:
        suite.ctx.record(failure)
    return {r: [f.message for f in records] for r, records in suite.ctx.results.failures.items()}


@pytest.mark.parametrize("reading", sorted(LOOSE_READINGS))
def test_a_loosely_checked_number_is_found_over_rest_and_the_webhook(
    reading: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _loosened(LOOSE_READINGS[reading], monkeypatch)
    with _session(tmp_path) as suite:
        over_rest = _failures(suite, "create_call")
        over_the_hook = _failures(suite, "webhook_invalid_create")
    assert list(over_rest) == ["CREATE-VALIDATION-400"]
    assert any("number with " in message for message in over_rest["CREATE-VALIDATION-400"])
    assert "HOOK-BAD-BODY-REFUSED" in over_the_hook
    assert any("a number with " in message for message in over_the_hook["HOOK-BAD-BODY-REFUSED"])


def test_the_mock_refuses_every_loose_number(tmp_path: Path) -> None:
    with _session(tmp_path) as suite:
        failures = {**_failures(suite, "create_call"), **_failures(suite, "webhook_invalid_create")}
    assert failures == {}
