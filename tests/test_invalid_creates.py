"""Invalid create bodies that only a loose check of the contact number lets through (contract 5 and
6, 1.1): each way a real validator slips on `^\\+91[0-9]{10}$` is found, over REST (SHOULD: 400) and
over the webhook (MUST: refused, nothing created)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import run_check, suite_on

from conformance.mock import MockConfig, MockServer, routes

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


@pytest.mark.parametrize("reading", sorted(LOOSE_READINGS))
def test_a_loosely_checked_number_is_found_over_rest_and_the_webhook(
    reading: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _loosened(LOOSE_READINGS[reading], monkeypatch)
    with MockServer(MockConfig(fixtures_token=TOKEN)) as server, suite_on(server, tmp_path) as suite:
        over_rest = run_check(suite, "create_call")
        over_the_hook = run_check(suite, "webhook_invalid_create")
    assert list(over_rest) == ["CREATE-VALIDATION-400"]
    assert any("number with " in message for message in over_rest["CREATE-VALIDATION-400"])
    assert "HOOK-BAD-BODY-REFUSED" in over_the_hook
    assert any("a number with " in message for message in over_the_hook["HOOK-BAD-BODY-REFUSED"])


def test_the_mock_refuses_every_loose_number(tmp_path: Path) -> None:
    with MockServer(MockConfig(fixtures_token=TOKEN)) as server, suite_on(server, tmp_path) as suite:
        run_check(suite, "create_call")
        failures = run_check(suite, "webhook_invalid_create")
    assert failures == {}
