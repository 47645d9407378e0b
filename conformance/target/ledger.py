"""The ledger: every call the suite created, and the clean-up of them at the end of a run.

Each call is written to `ledger.jsonl` in the report directory the moment it exists (id,
organisation, the check and requirements it was made for, time), so even a run that dies leaves
its record. The ledger follows what later answers say of each call (its status, or that a delete
removed it). At the end `clean_up` reads each call that may still need it back with GET and acts
through the public API only: it cancels what is queued and deletes what is completed. Calls still
ringing or in progress are finished first where the fixtures API can move them (as telephony
would), else they are left over. Cancelled and failed calls are retained: the contract offers no
way to delete them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.contract.model import Op
from conformance.errors import BudgetSpent
from conformance.http.client import Exchange
from conformance.target.calls import deleted_call, path_for

if TYPE_CHECKING:
    from conformance.target.environment import Environment, Tenant

__all__ = ["MAX_CLEANUP_COST", "CleanUp", "Entry", "Ledger", "clean_up"]

MAX_CLEANUP_COST = 3  # requests the clean-up needs for one call at most: a GET, a fixtures move, a cancel or delete
RETAINED = frozenset({"cancelled", "failed"})  # terminal, and the public API cannot delete them
RUNNING = frozenset({"initiated", "ringing", "in_progress"})
LEFT_ALONE = (
    "left alone: the target answered this id for another call too (ID-NEVER-REUSED), so it may not be the suite's"
)


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


@dataclass
class CleanUp:
    deleted: int = 0
    cancelled: int = 0
    retained: int = 0  # cancelled or failed before the clean-up: kept, as the contract has it
    leftovers: list[dict[str, Any]] = field(default_factory=list)  # still on the target, and why

    def as_json(self, created: int) -> dict[str, Any]:
        return {
            "created": created,
            "deleted": self.deleted,
            "cancelled": self.cancelled,
            "retained": self.retained,
            "leftovers": self.leftovers,
        }


class Ledger:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, Entry] = {}
        self.activity: tuple[str, tuple[str, ...]] = ("setup", ())  # the check running now
        self._lock = threading.Lock()
        self._started = False  # the file is started with the first call: a run that made none writes none
        self._cost = 0  # the sum of the entries' clean-up costs, kept as they change (asked before every request)

    def add(self, call_id: str, org: str, org_id: str | None, state: str | None) -> None:
        check, requirements = self.activity
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        entry = Entry(call_id, org, org_id, check, list(requirements), stamp, state)
        with self._lock:
            if call_id in self.entries:
                return
            self.entries[call_id] = entry
            self._cost += entry.cleanup_cost
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

    def note(self, entry: Entry, *, state: str | None = None, gone: bool = False) -> None:
        """What became of one of the entries: its status now, or that it is gone."""
        with self._lock:
            self._cost -= entry.cleanup_cost
            entry.state = state if state is not None else entry.state
            entry.gone = entry.gone or gone
            self._cost += entry.cleanup_cost

    def observe(self, exchange: Exchange) -> None:
        """Follow what an answer says of one of the suite's calls: its status now, or that it is gone."""
        gone = deleted_call(exchange)
        if gone is not None and gone in self.entries:
            self.note(self.entries[gone], gone=True)
            return
        call_id, state = _reported_state(exchange)
        if call_id in self.entries and state is not None:
            self.note(self.entries[call_id], state=state)


def _reported_state(exchange: Exchange) -> tuple[str | None, str | None]:
    if exchange.status not in (200, 201):
        return None, None
    body = exchange.json()
    if not isinstance(body, dict):
        return None, None
    found = body["data"] if isinstance(body.get("data"), dict) else body
    call_id, state = found.get("call_id"), found.get("status")
    return (call_id, state) if isinstance(call_id, str) and isinstance(state, str) else (None, None)


def clean_up(env: Environment) -> CleanUp:
    """Cancel the queued and delete the completed calls of the ledger; report what stays. Calls still
    running on a target without the fixtures API come last: they are waited for until the target ends
    them, which may go past the budget but takes nothing kept back for the others."""
    result = CleanUp()
    running: list[Entry] = []
    for entry in list(env.ledger.entries.values()):
        if not entry.needs_cleanup:
            result.retained += not entry.gone
            continue
        outcome = _outcome(_clean, env, entry)
        if outcome == RUNS_ON:
            running.append(entry)
            continue
        _count(env, result, entry, outcome)
    for entry in running:
        with env.client.overdraft():
            _count(env, result, entry, _outcome(_wait_and_delete, env, entry))
    return result


RUNS_ON = "running"  # `_clean`'s answer for a call that only the target itself can end


def _outcome(clean: Callable[[Environment, Entry], str], env: Environment, entry: Entry) -> str:
    try:
        return clean(env, entry)
    except BudgetSpent:
        return "the request budget ran out before the clean-up reached it"


def _count(env: Environment, result: CleanUp, entry: Entry, outcome: str) -> None:
    if outcome in ("deleted", "cancelled"):
        setattr(result, outcome, getattr(result, outcome) + 1)
    elif outcome == "retained":
        result.retained += 1
    elif outcome != "gone":
        result.leftovers.append({"call_id": entry.call_id, "org": entry.org, "state": entry.state, "reason": outcome})
    env.ledger.write({"event": "cleanup", "call_id": entry.call_id, "outcome": outcome})


def _clean(env: Environment, entry: Entry) -> str:
    """What became of one call: deleted, cancelled, gone, retained, why it is left over, or `RUNS_ON`."""
    tenant = env.tenant(entry.org)
    if tenant.key is None:
        return f"no API key of organisation {entry.org} to clean it up with"
    if env.guard.reused(entry.call_id):
        return LEFT_ALONE
    state = _read_back(env, tenant, entry)
    if env.guard.reused(entry.call_id):  # the read-back showed another call than the suite created
        return LEFT_ALONE
    overdraw = False
    if state == "queued":
        outcome = _act(env, tenant, entry, "cancel", "cancelled")
        if outcome == "cancelled" or entry.state not in RUNNING | {"completed"}:
            return outcome
        # It started by itself before the cancel reached it (a target whose calls move on their own):
        # what was kept back for it is spent, so deleting it may go past the budget.
        state, overdraw = entry.state or "unknown", True
    if state in RUNNING and env.can_seed_any_state:
        # As telephony would finish it. A call the target started on its own since the suite saw it
        # queued was kept two requests, not three: this one may go past the budget.
        with env.client.overdraft():
            env.advance(entry.call_id, "completed")
        state = "completed"
    if state in RUNNING:
        return RUNS_ON
    if state == "completed":
        with env.client.overdraft() if overdraw else nullcontext():
            return _act(env, tenant, entry, "delete", "deleted")
    if state in RETAINED or state == "gone":
        return "retained" if state in RETAINED else "gone"
    return state or "unknown"


def _wait_and_delete(env: Environment, entry: Entry) -> str:
    """A running call, once the target has ended it by itself (`--seeder api` and the like)."""
    tenant = env.tenant(entry.org)
    state = env.seeder.wait_ended(tenant, entry.call_id)
    if state is None:
        return f"still {entry.state}"
    env.ledger.note(entry, state=state)
    if state == "completed":
        return _act(env, tenant, entry, "delete", "deleted")
    return "retained" if state in RETAINED else state


def _read_back(env: Environment, tenant: Tenant, entry: Entry) -> str:
    exchange = env.client.request("GET", path_for("get", entry.call_id), headers=tenant.auth(), cleanup=True)
    if exchange.status == 404:
        return "gone"
    call_id, state = _reported_state(exchange)
    if call_id == entry.call_id and state is not None:
        env.ledger.note(entry, state=state)
        return state
    return f"GET answered {exchange.outcome()}"


def _act(env: Environment, tenant: Tenant, entry: Entry, op: Op, done: str) -> str:
    method = "POST" if op == "cancel" else "DELETE"
    exchange = env.client.request(method, path_for(op, entry.call_id), headers=tenant.auth(), cleanup=True)
    if exchange.status == 200:
        return done
    try:
        after = _read_back(env, tenant, entry)  # what the refused (or lost) request really did
    except BudgetSpent:
        after = "unknown: no request of the budget was left to read it back"
    if after == "gone" or (after == "cancelled" and op == "cancel"):
        return "deleted" if after == "gone" else done
    return f"{op} answered {exchange.outcome()}; the call is {after}"
