"""The progress lines' words (`conformance.run.progress`): a check's line says of each requirement it
found broken what the requirement table says (runs end to end: tests/test_plugin.py, tests/test_run.py)."""

from __future__ import annotations

import pytest

from conformance.run.progress import outcome

MUST, SHOULD = "DEL-REPEAT-404", "CANCEL-PAST-QUEUED-409"


@pytest.mark.parametrize(
    ("word", "failed", "strict", "shown"),
    [
        ("pass", [], False, "pass"),
        ("pass", [SHOULD], False, f"warn {SHOULD}"),
        ("pass", [SHOULD], True, f"FAIL {SHOULD}"),
        ("pass", ["ENV-NO-5XX"], False, "FAIL ENV-NO-5XX"),  # a MUST recorded in passing fails the check's line too
        (f"FAIL {MUST}", [MUST, SHOULD], False, f"FAIL {MUST}; warn {SHOULD}"),
        (f"FAIL {MUST}", [SHOULD, "ENV-JSON"], True, f"FAIL {SHOULD},{MUST},ENV-JSON"),
        ("not exercised", [SHOULD], False, "not exercised"),
        ("SUITE ERROR", [], False, "SUITE ERROR"),
    ],
)
def test_a_checks_word_is_the_requirement_tables(word: str, failed: list[str], strict: bool, shown: str) -> None:
    assert outcome(word, failed, strict=strict) == shown
