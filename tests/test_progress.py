"""The progress lines' words (`conformance.run.progress`): a check's line says of each requirement it
found broken what the requirement table says (runs end to end: tests/test_plugin.py, tests/test_run.py)."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, cast

import pytest

from conformance.run.progress import _Ticker, outcome

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


class _Terminal:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def test_a_running_count_each_time_the_requests_pass_a_multiple() -> None:
    """Requests are counted when admitted and answered out of order: the count seen is rarely a multiple."""
    terminal, client = _Terminal(), SimpleNamespace(requests=0)
    plugins = {"terminalreporter": terminal}
    ticker = _Ticker(cast(Any, SimpleNamespace(pluginmanager=SimpleNamespace(get_plugin=plugins.get))), client)
    for count in (498, 503, 731, 999, 1502, 1503, 2000):
        client.requests = count
        ticker(None)
    client.requests = 2600
    elsewhere = threading.Thread(target=ticker, args=(None,))  # only the main thread may suspend the capture
    elsewhere.start()
    elsewhere.join()
    assert terminal.lines == [f"  ... {n} requests so far" for n in (503, 1502, 2000)]
