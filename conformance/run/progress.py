"""Live progress on the terminal: a header, one line per finished check with its request count,
and a running request count during long layers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conformance.run.session import SuiteSession

__all__ = ["item_line", "start"]

TICK = 500  # requests between two running-count lines


def _terminal(config: pytest.Config) -> Any:
    return config.pluginmanager.get_plugin("terminalreporter")


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
