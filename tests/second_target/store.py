"""The second target's state and every operation on it, each atomic under one lock.

Ids come from one counter that only grows (reset included), so no id is ever answered twice. A
delete drops the whole record: nothing of the call is kept, and an `Idempotency-Key` that
created it keeps only the fact that its call is gone. Every answer is rendered under the lock, so
no request can read a call half-way through a change.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import CALL_NOT_CANCELLABLE, IDEMPOTENCY_CONFLICT, ApiError, invalid, not_found
from .validation import CreateBody, SeedBody

FORWARD = {
    "queued": {"initiated", "ringing", "in_progress", "completed", "failed", "cancelled"},
    "initiated": {"ringing", "in_progress", "completed", "failed"},
    "ringing": {"in_progress", "completed", "failed"},
    "in_progress": {"completed", "failed"},
    "completed": set(),
    "failed": set(),
    "cancelled": set(),
}
DELETE_NOT_FOUND = "No completed call with this id exists in your organization."


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Key:
    org_id: str
    scopes: frozenset[str]
    revoked: bool


@dataclass
class Call:
    call_id: str
    org_id: str
    status: str
    agent_id: str
    contact_number: str
    contact_name: str | None
    contact_email: str | None
    additional_info: dict[str, Any]
    created_at: str
    updated_at: str
    transcript: list[dict[str, str]] = field(default_factory=list)
    recording_url: str | None = None
    duration_seconds: int = 0

    def render(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "object": "call",
            "call_id": self.call_id,
            "status": self.status,
            "agent_id": self.agent_id,
            "contact_number": self.contact_number,
            "contact_name": self.contact_name,
            "contact_email": self.contact_email,
            "additional_info": copy.deepcopy(self.additional_info),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "livemode": False,
        }
        if self.status == "completed":
            body["transcript"] = copy.deepcopy(self.transcript)
            body["recording_url"] = self.recording_url
            body["duration_seconds"] = self.duration_seconds
        return body


@dataclass
class _Replay:
    fingerprint: str
    call_id: str


class Store:
    """Organisations, keys, webhook tokens, calls and Idempotency-Key records."""

    def __init__(self, first_id: int = 1001) -> None:
        self.lock = threading.Lock()
        self._ids = itertools.count(first_id)
        self._reset()

    def _reset(self) -> None:
        self._orgs: set[str] = set()
        self._keys: dict[str, Key] = {}
        self._tokens: dict[str, str] = {}
        self._calls: dict[str, Call] = {}
        self._replays: dict[tuple[str, str], _Replay | None] = {}

    def reset(self) -> None:
        with self.lock:
            self._reset()  # the id counter survives: a later call never gets an earlier id

    # --- credentials ---------------------------------------------------------------------------

    def new_org(self) -> tuple[str, str]:
        with self.lock:
            org_id, token = f"acct_{secrets.token_hex(6)}", f"hook_{secrets.token_urlsafe(24)}"
            self._orgs.add(org_id)
            self._tokens[token] = org_id
            return org_id, token

    def new_key(self, org_id: str, scopes: frozenset[str], revoked: bool) -> str:
        with self.lock:
            if org_id not in self._orgs:
                raise not_found("No such organization.")
            secret = f"hv_test_{secrets.token_hex(20)}"
            self._keys[secret] = Key(org_id, scopes, revoked)
            return secret

    def key(self, secret: str) -> Key | None:
        with self.lock:
            return self._keys.get(secret)

    def org_of_token(self, token: str) -> str | None:
        with self.lock:
            return self._tokens.get(token)

    # --- calls ---------------------------------------------------------------------------------

    def _next_id(self) -> str:
        return f"c_{next(self._ids)}"

    def _own(self, org_id: str, call_id: str, message: str | None = None) -> Call:
        call = self._calls.get(call_id)
        if call is None or call.org_id != org_id:
            raise not_found() if message is None else not_found(message)
        return call

    def create(self, org_id: str, body: CreateBody, idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
        """The new call (or, for a replay, the call the key created, as it is now) and whether it replays."""
        with self.lock:
            slot = (org_id, idempotency_key) if idempotency_key is not None else None
            if slot is not None and slot in self._replays:
                return self._replay(org_id, self._replays[slot], body), True
            stamp = _now()
            call = Call(
                self._next_id(),
                org_id,
                "queued",
                body.agent_id,
                body.contact_number,
                body.contact_name,
                body.contact_email,
                copy.deepcopy(body.additional_info),
                stamp,
                stamp,
            )
            self._calls[call.call_id] = call
            if slot is not None:
                self._replays[slot] = _Replay(body.fingerprint(), call.call_id)
            return call.render(), False

    def _replay(self, org_id: str, record: _Replay | None, body: CreateBody) -> dict[str, Any]:
        if record is not None and record.fingerprint != body.fingerprint():
            raise ApiError(409, IDEMPOTENCY_CONFLICT, "This Idempotency-Key was already used for another call body.")
        if record is None or record.call_id not in self._calls:
            raise ApiError(409, IDEMPOTENCY_CONFLICT, "The call made with this Idempotency-Key was deleted.")
        return self._calls[record.call_id].render()

    def get(self, org_id: str, call_id: str) -> dict[str, Any]:
        with self.lock:
            return self._own(org_id, call_id).render()

    def cancel(self, org_id: str, call_id: str) -> str:
        with self.lock:
            call = self._own(org_id, call_id)
            if call.status == "queued":
                call.status, call.updated_at = "cancelled", _now()
            elif call.status != "cancelled":
                raise ApiError(422, CALL_NOT_CANCELLABLE, f"A call that is {call.status} can no longer be cancelled.")
            return call.call_id

    def delete(self, org_id: str, call_id: str) -> str:
        with self.lock:
            call = self._own(org_id, call_id, DELETE_NOT_FOUND)
            if call.status != "completed":
                raise not_found(DELETE_NOT_FOUND)
            del self._calls[call_id]
            for slot, record in self._replays.items():
                if record is not None and record.call_id == call_id:
                    self._replays[slot] = None  # no fingerprint of the erased body is kept
            return call_id

    # --- fixtures ------------------------------------------------------------------------------

    def seed(self, seed: SeedBody) -> dict[str, Any]:
        with self.lock:
            if seed.org_id not in self._orgs:
                raise not_found("No such organization.")
            stamp, fields = _now(), copy.deepcopy(seed.fields)
            call = Call(
                self._next_id(),
                seed.org_id,
                seed.status,
                fields.pop("agent_id", "agent_seeded"),
                fields.pop("contact_number", "+91" + "".join(secrets.choice("0123456789") for _ in range(10))),
                fields.pop("contact_name", None),
                fields.pop("contact_email", None),
                fields.pop("additional_info", {}),
                stamp,
                stamp,
                **fields,
            )
            self._calls[call.call_id] = call
            return call.render()

    def advance(self, call_id: str, status: str) -> dict[str, Any]:
        with self.lock:
            call = self._calls.get(call_id)
            if call is None:
                raise not_found("No such call.")
            if status != call.status:
                if status not in FORWARD[call.status]:
                    raise invalid(f"A call cannot move from {call.status} to {status}.")
                call.status, call.updated_at = status, _now()
            return call.render()
