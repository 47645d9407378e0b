"""Live progress on the terminal: a header, one line per finished check with its request count,
and a running request count during long layers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .session import SuiteSession

__all__ = ["item_line", "start"]

TICK = 500  # requests between two running-count lines


def _terminal(config: pytest.Config) -> Any:
    return config.pluginmanager.get_plugin("terminalreporter")


def start(config: pytest.Config, suite: SuiteSession) -> None:
    from . import CONTRACT_VERSION, __version__

    terminal = _terminal(config)
    if terminal is None:
        return
    terminal.showfspath = False  # our own lines replace pytest's per-file dots
    where = f"{suite.target} (bundled mock)" if suite.mock else suite.target
    cfg = suite.config
    terminal.write_line(
        f"husky-conformance {__version__} · contract {CONTRACT_VERSION} · target {where}"
        f" · seed {cfg.seed} · budget {cfg.budget.name}{' · strict' if cfg.strict else ''}"
    )

    def tick(exchange: object) -> None:
        if suite.ctx.client.requests % TICK == 0:
            terminal.write_line(f"  ... {suite.ctx.client.requests} requests so far")

    suite.ctx.client.observers.append(tick)


def item_line(config: pytest.Config, layer: str, name: str, outcome: str, requests: int) -> None:
    terminal = _terminal(config)
    if terminal is not None:
        terminal.write_line(f"  [{layer:<10}] {name:<46} {outcome:<14} {requests:>6} requests")
