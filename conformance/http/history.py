"""The requests of the check running now, with when each was on the wire: what a failure's
reproduction is chosen from (`conformance.layers.reproduction`).

A check calls `start` when it begins (each pytest item, through `Context.begin`; each scenario of
the schema layer); the client adds every exchange it sends or is shown. Only the latest `MAX_KEPT`
are kept: a reproduction needs the requests just before its failure, and the seeding of each call
is kept apart all run long (`Environment.setup`).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conformance.http.client import Exchange  # the client imports this module

__all__ = ["MAX_KEPT", "History", "Sent"]

MAX_KEPT = 4096  # exchanges of one check kept, the latest


@dataclass(frozen=True)
class Sent:
    """One exchange of the check, and when it was on the wire (`time.monotonic()`; None: not known).
    Schemathesis' requests, sent one at a time, are given the time they were shown to the client."""

    exchange: Exchange
    started: float | None = None
    ended: float | None = None

    def overlaps(self, until: float | None) -> bool:
        """Whether this one started before `until`, the end of the requests before it: they were in flight together."""
        return self.started is not None and until is not None and self.started < until


class History:
    def __init__(self, limit: int = MAX_KEPT) -> None:
        self._sent: deque[Sent] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def start(self) -> None:
        """A check begins: the exchanges before it are not its own."""
        with self._lock:
            self._sent.clear()

    def add(self, exchange: Exchange, started: float | None = None, ended: float | None = None) -> None:
        with self._lock:
            self._sent.append(Sent(exchange, started, ended))

    def sent(self) -> list[Sent]:
        """The check's exchanges so far, in the order their answers came."""
        with self._lock:
            return list(self._sent)
