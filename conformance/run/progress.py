"""Live progress on the terminal: a header, one line per finished check with its request count,
and a running request count during long layers; and pytest's own header held back until the run
is known to start, so that a usage error met at collection is the only line."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conformance.run.session import SuiteSession

__all__ = ["hold", "item_line", "release", "start"]

TICK = 500  # requests between two running-count lines
HELD: pytest.StashKey[tuple[Any | None, io.StringIO]] = pytest.StashKey()  # the terminal's file, and what it holds back


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


def start(config: pytest.Config, suite: SuiteSession) -> None:
    from conformance import CONTRACT_VERSION, __version__

    terminal = _terminal(config)
    if terminal is None:
        return
    terminal.showfspath = False  # our own lines replace pytest's per-file dots
    cfg, env = suite.planned or suite.config, suite.ctx.env
    where = f"{suite.target} (bundled mock)" if suite.mock and not suite.planned else suite.target
    terminal.write_line(
        f"husky-conformance {__version__} · contract {CONTRACT_VERSION} · target {where}"
        f" · seed {cfg.seed} · budget {cfg.budget.name} ({cfg.max_requests} requests)"
        + (" · strict" if cfg.strict else "")
    )
    pace = f"{cfg.rate_limit:g}/min" if cfg.rate_limit else "unpaced"
    destructive = "on" if env.guard.destructive_allowed else "off (--allow-destructive)"
    terminal.write_line(f"  {pace} · seeder {cfg.seeder} · cancels and deletes {destructive}")
    if suite.planned:
        terminal.write_line("  DRY RUN: nothing is sent to the target; the bundled mock stands in for it")

    def tick(exchange: object) -> None:
        if suite.ctx.client.requests % TICK == 0:
            terminal.write_line(f"  ... {suite.ctx.client.requests} requests so far")

    suite.ctx.client.observers.append(tick)


def item_line(config: pytest.Config, layer: str, name: str, outcome: str, requests: int) -> None:
    terminal = _terminal(config)
    if terminal is not None:
        terminal.write_line(f"  [{layer:<10}] {name:<46} {outcome:<14} {requests:>6} requests")
