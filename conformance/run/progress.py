"""Live progress on the terminal: a header, one line per finished check with its request count and
what it found, and a running request count during the checks (not during the clean-up, which has
one line of its own); and pytest's own header held back until the run is known to start, so that
a usage error met at collection is the only line."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest

from conformance.contract.requirements import by_id
from conformance.layers.verdict import shown

if TYPE_CHECKING:
    from conformance.config import SuiteConfig
    from conformance.http.client import Client
    from conformance.run.session import SuiteSession

__all__ = ["header", "hold", "item_line", "outcome", "release", "start", "stop"]

TICK = 500  # requests between two running-count lines
HELD: pytest.StashKey[tuple[Any | None, io.StringIO]] = pytest.StashKey()  # the terminal's file, and what it holds back
TICKER: pytest.StashKey[Any] = pytest.StashKey()  # the running count, an observer of the client until `stop`


def _terminal(config: pytest.Config) -> Any:
    return config.pluginmanager.get_plugin("terminalreporter")


def hold(config: pytest.Config) -> None:
    """Keep what pytest writes to the terminal (its header, the collection) back until `release`."""
    terminal = _terminal(config)
    if terminal is not None and HELD not in config.stash:
        writer = terminal._tw  # pytest's TerminalWriter: everything it writes goes to its `_file`
        config.stash[HELD] = (writer._file, io.StringIO())
        writer._file = config.stash[HELD][1]


def release(config: pytest.Config, *, show: bool = True) -> None:
    """Write what was held (`show`), and from now on straight to the terminal; or, not `show`,
    drop it and everything pytest writes after it (a usage error is then the only line)."""
    terminal, held = _terminal(config), config.stash.get(HELD, None)
    if terminal is None or held is None or held[0] is None:
        return
    file, text = held
    assert file is not None
    if not show:
        config.stash[HELD] = (None, text)  # dropped: pytest goes on writing into `text`, never shown
        return
    del config.stash[HELD]
    terminal._tw._file = file
    file.write(text.getvalue())
    file.flush()


def header(config: SuiteConfig, target: str, *, destructive: bool, planned: bool = False) -> list[str]:
    """The run's first lines: what is tested, with which seed and budget, at which pace."""
    from conformance import CONTRACT_VERSION, __version__

    pace = f"{config.rate_limit:g}/min" if config.rate_limit else "unpaced"
    allowed = "on" if destructive else "off (--allow-destructive)"
    lines = [
        f"husky-conformance {__version__} · contract {CONTRACT_VERSION} · target {target}"
        f" · seed {config.seed} · budget {config.budget.name} ({config.max_requests} requests)"
        + (" · strict" if config.strict else ""),
        f"  {pace} · seeder {config.seeder} · cancels and deletes {allowed}",
    ]
    if planned:
        lines.append("  DRY RUN: nothing is sent to the target; the bundled mock stands in for it")
    return lines


def start(config: pytest.Config, suite: SuiteSession) -> None:
    terminal = _terminal(config)
    if terminal is None:
        return
    terminal.showfspath = False  # our own lines replace pytest's per-file dots
    where = f"{suite.target} (bundled mock)" if suite.mock and not suite.planned else suite.target
    allowed = suite.ctx.env.guard.destructive_allowed
    for line in header(suite.planned or suite.config, where, destructive=allowed, planned=bool(suite.planned)):
        terminal.write_line(line)
    terminal.flush()  # a `--workers` parent waits for it (`conformance.run.parallel`)
    config.stash[TICKER] = _Ticker(config, suite.ctx.client)
    suite.ctx.client.observers.append(config.stash[TICKER])


class _Ticker:
    """A running count each time the run's requests pass another multiple of `TICK` (counted when
    admitted and answered out of order, several at once: rarely an exact multiple). A check runs with
    its output captured: the count is written past the capture, from the main thread only (the one
    that may suspend it); another thread's request is counted by the next one of the main thread."""

    def __init__(self, config: pytest.Config, client: Client) -> None:
        self.terminal, self.client, self.next = _terminal(config), client, TICK
        self.capture = config.pluginmanager.get_plugin("capturemanager")  # None under `-p no:capture`

    def __call__(self, exchange: object) -> None:
        count = self.client.requests
        if count < self.next or threading.current_thread() is not threading.main_thread():
            return
        self.next = (count // TICK + 1) * TICK
        with self.capture.global_and_fixture_disabled() if self.capture else contextlib.nullcontext():
            self.terminal.write_line(f"  ... {count} requests so far")


def stop(config: pytest.Config, suite: SuiteSession) -> None:
    """The last check has ended: no more running counts; what the clean-up has to do, once."""
    ticker, terminal = config.stash.get(TICKER, None), _terminal(config)
    if ticker in suite.ctx.client.observers:
        suite.ctx.client.observers.remove(ticker)
    calls = sum(entry.needs_cleanup for entry in suite.ctx.env.ledger.entries.values())
    if terminal is None or suite.planned or not calls:
        return
    if terminal._tw.width_of_current_line:  # after pytest's `[100%]`
        terminal._tw.line()
    terminal.write_line(f"  cleaning up: {calls} of the suite's calls still on the target")


def outcome(word: str, failed: Iterable[str], *, strict: bool) -> str:
    """A check's word on its progress line: the requirements it found broken, as the requirement table
    shows them (a SHOULD is a warning unless strict), those recorded in passing included."""
    if word != "pass" and not word.startswith("FAIL "):
        return word  # not exercised, skipped, a suite error: said as it is
    raised = word.removeprefix("FAIL ").split(",") if word != "pass" else []
    marks = {r: shown("fail", by_id(r).level, strict=strict) for r in failed} | dict.fromkeys(raised, "fail")
    failing = sorted(r for r, mark in marks.items() if mark == "fail")
    warned = sorted(r for r, mark in marks.items() if mark == "warn")
    words = ([f"FAIL {','.join(failing)}"] if failing else []) + ([f"warn {','.join(warned)}"] if warned else [])
    return "; ".join(words) or "pass"


def item_line(config: pytest.Config, suite: SuiteSession, item: dict[str, Any]) -> None:
    """One finished check: kept for the plan and the report, and a line on the terminal (not in a
    dry run, whose plan lists every check once at its end)."""
    suite.items.append(item)
    terminal = _terminal(config)
    if terminal is not None and not suite.planned:
        layer, name, word, requests = item["layer"], item["name"], item["outcome"], item["requests"]
        terminal.write_line(f"  [{layer:<10}] {name:<46} {word:<14} {requests:>6} requests")
