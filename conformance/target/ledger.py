"""The ledger: every call the suite created, and what later answers said of it.

Each call is written to `ledger.jsonl` in the report directory the moment it exists (id,
organisation, the check and requirements it was made for, time), so even a run that dies leaves
its record. The ledger follows what later answers say of each call (its status, or that a delete
removed it), and what the clean-up (`conformance.target.cleanup`) may still need for it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from conformance.http.client import Exchange
from conformance.target.calls import deleted_call

__all__ = ["MAX_CLEANUP_COST", "RETAINED", "RUNNING", "Entry", "Ledger", "reported_state"]

MAX_CLEANUP_COST = 3  # requests the clean-up needs for one call at most: a GET, a fixtures move, a cancel or delete
RETAINED = frozenset({"cancelled", "failed"})  # terminal, and the public API cannot delete them
RUNNING = frozenset({"initiated", "ringing", "in_progress"})


@dataclass
class Entry:
    call_id: str
    org: str  # "A" or "B"
    org_id: str | None
    check: str
    requirements: list[str]
    time: str
    state: str | None = None  # as last seen; None: unknown
    gone: bool = False

    @property
    def needs_cleanup(self) -> bool:
        return not self.gone and self.state not in RETAINED

    @property
    def cleanup_cost(self) -> int:
        """The requests its clean-up may need: a GET, a cancel or a delete, and a fixtures move first
        if it is running or its state is unknown."""
        if not self.needs_cleanup:
            return 0
        return MAX_CLEANUP_COST if self.state in RUNNING or self.state is None else 2


class Ledger:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, Entry] = {}
        self.activity: tuple[str, tuple[str, ...]] = ("setup", ())  # the check running now
        self._lock = threading.Lock()
        self._started = False  # the file is started with the first call: a run that made none writes none
        self._cost = 0  # the sum of the entries' clean-up costs, kept as they change (asked before every request)
        # The target's calls move on by themselves (made through the public API): a queued call may have
        # started before the clean-up's cancel reaches it, and then needs a delete as well.
        self.moving = False

    def add(self, call_id: str, org: str, org_id: str | None, state: str | None) -> None:
        check, requirements = self.activity
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        entry = Entry(call_id, org, org_id, check, list(requirements), stamp, state)
        with self._lock:
            if call_id in self.entries:
                return
            self.entries[call_id] = entry
            self._cost += self._cost_of(entry)
        self.write({"event": "created", **asdict(entry)})

    def write(self, line: dict[str, Any]) -> None:
        """One line of `ledger.jsonl` (none without a report directory)."""
        if self.path is None:
            return
        with self._lock:
            if not self._started:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text("", encoding="utf-8")  # a report dir reused: this run's calls only
                self._started = True
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")

    def cleanup_cost(self) -> int:
        """The requests the clean-up may need for the calls it may still have to act on (each one's
        `Entry.cleanup_cost`): what the request budget keeps back for it."""
        return self._cost

    def _cost_of(self, entry: Entry) -> int:
        return entry.cleanup_cost + int(self.moving and entry.needs_cleanup and entry.state == "queued")

    def note(self, entry: Entry, *, state: str | None = None, gone: bool = False) -> None:
        """What became of one of the entries: its status now, or that it is gone."""
        with self._lock:
            self._cost -= self._cost_of(entry)
            entry.state = state if state is not None else entry.state
            entry.gone = entry.gone or gone
            self._cost += self._cost_of(entry)

    def observe(self, exchange: Exchange) -> None:
        """Follow what an answer says of one of the suite's calls: its status now, or that it is gone."""
        gone = deleted_call(exchange)
        if gone is not None and gone in self.entries:
            self.note(self.entries[gone], gone=True)
            return
        call_id, state = reported_state(exchange)
        if call_id in self.entries and state is not None:
            self.note(self.entries[call_id], state=state)


def reported_state(exchange: Exchange) -> tuple[str | None, str | None]:
    if exchange.status not in (200, 201):
        return None, None
    body = exchange.json()
    if not isinstance(body, dict):
        return None, None
    found = body["data"] if isinstance(body.get("data"), dict) else body
    call_id, state = found.get("call_id"), found.get("status")
    return (call_id, state) if isinstance(call_id, str) and isinstance(state, str) else (None, None)
