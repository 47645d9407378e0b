"""The clean-up at the end of a run: every call of the ledger that may still need it is read back
with GET, then acted on through the public API only: it cancels what is queued and deletes what is
completed. Calls still ringing or in progress are finished first where the fixtures API can move
them (as telephony would), else they are left over. Cancelled and failed calls are retained: the
contract offers no way to delete them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conformance.errors import BudgetSpent
from conformance.target.calls import Op, path_for
from conformance.target.ledger import RETAINED, RUNNING, Entry, reported_state

if TYPE_CHECKING:
    from conformance.target.environment import Environment, Tenant

__all__ = ["CleanUp", "clean_up"]

LEFT_ALONE = (
    "left alone: the target answered this id for another call too (ID-NEVER-REUSED), so it may not be the suite's"
)


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
    call_id, state = reported_state(exchange)
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
