"""Seeders: how the suite gets a call of its own in a given state (`--seeder`).

- `fixtures`: the fixtures API makes a call in any state and moves it forward (contract §8).
- `api`: the public API only. `POST /v1/calls` (with an `Idempotency-Key`) makes a queued call;
  a cancel of it, a cancelled one; for a completed one it polls `GET` until the call completes on
  its own (a staging with auto-completing test agents), for at most `--wait-completed` seconds.
  If a call does not complete in time, no later call is waited for.
- `pool`: as `api`, but completed calls come from a file of pre-provisioned completed call ids
  (one a line, `B <id>` for organisation B), each used at most once and read back before use.

What a seeder cannot make raises `NotExercised` with the reason, so the check that wanted it is
reported "not exercised".
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.config import DEFAULT_WAIT_COMPLETED
from conformance.errors import NotExercised, UsageError
from conformance.http.client import Exchange
from conformance.target.calls import get, rest

if TYPE_CHECKING:
    from conformance.target.environment import Environment, Tenant

__all__ = ["ApiSeeder", "FixturesSeeder", "PoolSeeder", "Seeder", "read_pool"]

CREATE_FIELDS = ("contact_number", "contact_name", "contact_email", "additional_info")
ENDED = frozenset({"completed", "failed", "cancelled"})
FIRST_POLL, MAX_POLL = 0.25, 8.0  # seconds between polls: doubling, so a slow completion costs few requests


class Seeder:
    """Makes queued calls with the public API; the subclasses add the other states."""

    name = "api"
    states: tuple[str, ...] = ("queued", "cancelled")

    def __init__(self, env: Environment, end_wait: float = DEFAULT_WAIT_COMPLETED) -> None:
        self.env = env
        # Idempotency keys unique to this run: the same seed against the same target again must not
        # replay (or conflict with) the creates of an earlier run, whose calls are not this run's.
        self.run_key = secrets.token_hex(8)
        self.end_wait = end_wait  # how long the clean-up waits for a running call to end by itself
        self.never_ends: str | None = None  # why it waits no more (one call did not end in time)

    def can_seed(self, state: str) -> bool:
        return state in self.states

    def why_not(self, state: str) -> str:
        return f"the {self.name} seeder cannot make a call in state {state!r}"

    def seed(self, tenant: Tenant, state: str, pii: dict[str, Any]) -> tuple[str, Exchange]:
        if not self.can_seed(state):
            raise NotExercised(self.why_not(state))
        call_id, exchange = self._create(tenant, pii)
        if state == "cancelled":
            rest(self.env.client, "cancel", call_id, tenant.auth())
        return call_id, exchange

    def advance(self, call_id: str, state: str) -> None:
        raise NotExercised(f"the {self.name} seeder cannot move a call forward (that needs the fixtures API)")

    def wait_ended(self, tenant: Tenant, call_id: str) -> str | None:
        """For the clean-up, without the fixtures API: the status of a running call once the target has
        ended it by itself, within `end_wait` seconds (None: it did not, and no later call is waited for)."""
        if self.never_ends is not None:
            return None
        status, _ = self._poll(tenant, call_id, self.end_wait)
        if status in ENDED:
            return status
        self.never_ends = f"a call was {status} after {self.end_wait:g} s"
        return None

    def _poll(self, tenant: Tenant, call_id: str, seconds: float) -> tuple[str, dict[str, Any]]:
        """GET the call until it has ended (or `seconds` are over): its last status and data."""
        deadline, pause, status, data = time.monotonic() + seconds, FIRST_POLL, "queued", {}
        while time.monotonic() < deadline:
            self.env.client.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(2 * pause, MAX_POLL)
            data = _call_data(get(self.env.client, call_id, tenant.auth()))
            status = str(data.get("status", status))
            if status in ENDED:
                break
        return status, data

    def _create(self, tenant: Tenant, pii: dict[str, Any]) -> tuple[str, Exchange]:
        body = {k: pii[k] for k in CREATE_FIELDS if k in pii} | {"agent_id": self.env.agent_id}
        key = f"husky-conformance-{self.run_key}-{self.env.rng.getrandbits(64):016x}"
        headers = tenant.auth() | {"Idempotency-Key": key}
        exchange = self.env.client.request("POST", "/v1/calls", headers=headers, json_body=body)
        answer = exchange.json()
        try:
            call_id = str(answer["data"]["call_id"])
        except (TypeError, KeyError):
            raise NotExercised(f"POST /v1/calls did not create a call ({exchange.outcome()})") from None
        self.env.created_now(call_id, tenant, "queued")
        return call_id, exchange


class ApiSeeder(Seeder):
    states = ("queued", "cancelled", "completed")

    def __init__(self, env: Environment, wait_completed: float) -> None:
        super().__init__(env, wait_completed or DEFAULT_WAIT_COMPLETED)
        self.wait_completed = wait_completed
        self.unavailable = None if wait_completed else "the api seeder waits for none (--wait-completed SECONDS)"

    def can_seed(self, state: str) -> bool:
        return state in self.states and (state != "completed" or self.unavailable is None)

    def why_not(self, state: str) -> str:
        return f"no completed call: {self.unavailable}" if state == "completed" else super().why_not(state)

    def seed(self, tenant: Tenant, state: str, pii: dict[str, Any]) -> tuple[str, Exchange]:
        if state != "completed":
            return super().seed(tenant, state, pii)
        if self.unavailable:
            raise NotExercised(self.why_not(state))
        call_id, created = self._create(tenant, pii)
        self._wait_completed(tenant, call_id, pii)
        return call_id, created

    def _wait_completed(self, tenant: Tenant, call_id: str, pii: dict[str, Any]) -> None:
        status, data = self._poll(tenant, call_id, self.wait_completed)
        if status == "completed":
            # The server's own PII of the call: its recording URL. Its transcript is not kept: the
            # lines a server writes ("Hello there, goodbye.") may be every call's, and a line that
            # names the contact is found by the contact's own values already.
            pii.update({k: data[k] for k in ("recording_url",) if k in data})
            return
        self.unavailable = f"a call created with POST /v1/calls was {status} after {self.wait_completed:g} s"
        self.never_ends = self.unavailable  # the clean-up need not wait either
        raise NotExercised(f"no completed call: {self.unavailable} (--wait-completed)")


class PoolSeeder(Seeder):
    name = "pool"
    states = ("queued", "cancelled", "completed")

    def __init__(self, env: Environment, pool: dict[str, list[str]], source: Path) -> None:
        super().__init__(env)
        self.pool = pool
        self.source = source

    def seed(self, tenant: Tenant, state: str, pii: dict[str, Any]) -> tuple[str, Exchange]:
        if state != "completed":
            return super().seed(tenant, state, pii)
        ids = self.pool.get(tenant.name, [])
        while ids:
            call_id = ids.pop(0)
            self.env.created_now(call_id, tenant, None)  # the suite may use it (once), and cleans it up
            exchange = get(self.env.client, call_id, tenant.auth())
            data = _call_data(exchange)
            if data.get("status") == "completed":
                # Pre-provisioned calls may share a contact: only the recording tells one from another,
                # so it alone must vanish with the call (erasure is judged on values unique to a call).
                pii.clear()
                pii.update({k: data[k] for k in ("recording_url",) if k in data})
                return call_id, exchange
        raise NotExercised(f"the pool {self.source} has no completed call of organisation {tenant.name} left")


class FixturesSeeder(Seeder):
    name = "fixtures"

    def can_seed(self, state: str) -> bool:
        return True

    def seed(self, tenant: Tenant, state: str, pii: dict[str, Any]) -> tuple[str, Exchange]:
        exchange, answer = self.env.fixtures_api.call(tenant.org_id, state, {"agent_id": self.env.agent_id, **pii})
        call_id = answer["data.call_id"]
        self.env.created_now(call_id, tenant, state)
        return call_id, exchange

    def advance(self, call_id: str, state: str) -> None:
        self.env.fixtures_api.advance(call_id, state)


def _call_data(exchange: Exchange) -> dict[str, Any]:
    """The call a GET answered with (empty unless it answered 200 with one)."""
    body = exchange.json()
    data = body.get("data") if exchange.status == 200 and isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


def read_pool(path: Path) -> dict[str, list[str]]:
    """`{"A": [...], "B": [...]}` from a pool file: an id a line, `B <id>` for organisation B, `#` comments."""
    pool: dict[str, list[str]] = {"A": [], "B": []}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--pool {path}: cannot read it ({exc})") from None
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        org, call_id = (words[0].upper(), words[1]) if len(words) == 2 else ("A", words[0])
        if org not in pool or len(words) > 2:
            raise UsageError(f"--pool {path}, line {number}: expected '<call id>' or 'B <call id>', got {line!r}")
        pool[org].append(call_id)
    if not any(pool.values()):
        raise UsageError(f"--pool {path} lists no call id")
    return pool
