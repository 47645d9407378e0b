"""The mock's in-memory state: organisations, keys, webhook tokens, calls and idempotency records.

The store holds data and the lifecycle graph of contract section 4; it decides nothing about
HTTP. Every read-check-write sequence runs under `Store.lock`, which makes each operation atomic
under concurrency.

It holds at most `max_calls` calls, whose client-given fields take at most `max_call_bytes` as JSON
(`Store.room`): a create beyond either is refused, never made room for by forgetting a call. A
call's `additional_info` and `transcript` are kept as their JSON text, so that what a call costs in
memory follows what the client sent (parsed, 60 KB of `[[],[],...]` takes 1.5 MB).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from conformance.mock.faults import FAULTS

__all__ = [
    "SCOPES",
    "STATUSES",
    "ApiKey",
    "Call",
    "IdempotencyRecord",
    "Org",
    "Store",
    "StoreFull",
    "can_move",
    "now_rfc3339",
]

STATUSES = ("queued", "initiated", "ringing", "in_progress", "completed", "failed", "cancelled")
SCOPES = ("calls:create", "calls:read", "calls:cancel", "calls:delete")

# One step of telephony (or of cancel, for queued -> cancelled); contract section 4.
_NEXT: dict[str, tuple[str, ...]] = {
    "queued": ("initiated", "cancelled"),
    "initiated": ("ringing", "failed"),
    "ringing": ("in_progress", "failed"),
    "in_progress": ("completed", "failed"),
}


def _reachable(status: str) -> frozenset[str]:
    found: set[str] = set()
    todo = list(_NEXT.get(status, ()))
    while todo:
        nxt = todo.pop()
        if nxt not in found:
            found.add(nxt)
            todo.extend(_NEXT.get(nxt, ()))
    return frozenset(found)


_FORWARD = {status: _reachable(status) for status in STATUSES}


def can_move(current: str, target: str) -> bool:
    """Whether `target` lies ahead of `current` in the lifecycle (one step or several)."""
    return target in _FORWARD[current]


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Org:
    org_id: str
    webhook_token: str = field(repr=False)


@dataclass(frozen=True)
class ApiKey:
    secret: str = field(repr=False)
    org_id: str
    scopes: frozenset[str]
    revoked: bool = False


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


_DECODE = json.JSONDecoder().decode


def _packed(value: Any) -> str:
    return value if isinstance(value, str) else _COMPACT.encode(value)


def _unpacked(text: str) -> Any:
    """The value of packed JSON text; the usual empty ones without the decoder (a GET's hot path)."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return _DECODE(text)


@dataclass
class Call:
    """A call and all its PII. Telephony fields are kept from seeding on, shown once completed.

    `additional_info` and `transcript` hold JSON text (`Store.add_call` and `_progress` encode them).
    """

    call_id: str
    org_id: str
    status: str
    agent_id: str
    contact_number: str
    contact_name: str | None = None
    contact_email: str | None = None
    additional_info: str = "{}"
    transcript: str = "[]"
    recording_url: str | None = None
    duration_seconds: int = 0
    created_at: str = field(default_factory=now_rfc3339)
    updated_at: str = ""
    completes_at: float | None = None  # auto-completion (`MockConfig.auto_complete`), on the store's clock
    started_at: float | None = None
    weight: int = 0  # bytes of its client-given fields, as JSON (`Store.room`)

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at

    def move(self, status: str) -> None:
        self.status = status
        self.updated_at = now_rfc3339()

    def to_json(self, additional_info: Any = None) -> dict[str, Any]:
        """The call as the API shows it; `additional_info`, if given, is its value already decoded."""
        body: dict[str, Any] = {
            "call_id": self.call_id,
            "status": self.status,
            "agent_id": self.agent_id,
            "contact_number": self.contact_number,
            "contact_name": self.contact_name,
            "contact_email": self.contact_email,
            "additional_info": _unpacked(self.additional_info) if additional_info is None else additional_info,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.status == "completed":
            body["transcript"] = _unpacked(self.transcript)
            body["recording_url"] = self.recording_url
            body["duration_seconds"] = self.duration_seconds
        return body


@dataclass(frozen=True)
class IdempotencyRecord:
    """What a create with an Idempotency-Key answered; erased with its call."""

    body_digest: str
    call_id: str
    response: str  # the first answer's JSON text


class StoreFull(Exception):
    """The store holds `max_calls` calls, or `max_call_bytes` of their fields: no call is added."""


class Store:
    """All state of one mock server. Callers hold `lock` (re-entrant) around every read-check-write."""

    def __init__(self, max_calls: int = 100_000, max_call_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_calls, self.max_call_bytes = max_calls, max_call_bytes
        self.call_bytes = 0  # the held calls' weights
        self.lock = threading.RLock()
        self.orgs: dict[str, Org] = {}
        self.orgs_by_token: dict[str, Org] = {}
        self.keys: dict[str, ApiKey] = {}
        self.calls: dict[str, Call] = {}
        self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self.faults: frozenset[str] = frozenset()
        self.tombstones: dict[str, Call] = {}  # deleted calls, kept only by faults that remember them
        # What only faults keep (see `faults.FAULTS`): when and by whom each call was deleted, deleted
        # calls due to come back, ids free for reuse, a contact book and a read cache.
        self.deleted_at: dict[str, tuple[str, float]] = {}
        self.restores: list[tuple[float, Call]] = []
        self.free_ids: list[str] = []
        self.contact_book: dict[tuple[str, str], dict[str, Any]] = {}
        self.read_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self.cancelled_at: dict[str, float] = {}
        # "lagging-replica": when each call was made, and each deleted call with when it was made and deleted
        self.born: dict[str, float] = {}
        self.replica_ghosts: dict[str, tuple[float, float, Call]] = {}
        self.hook_lock = threading.Lock()  # "mixed-transport-delete-race": the webhook worker's own lock
        self.request_org: str | None = None  # "create-org-race": a request context shared by all requests
        self.auto_complete: float | None = None
        self.clock: Callable[[], float] = time.monotonic

    def fault(self, name: str) -> bool:
        """Whether the deliberate violation `name` (see `faults.FAULTS`) is switched on."""
        if name not in FAULTS:
            raise KeyError(f"no fault named {name!r}")
        return name in self.faults

    def add_org(self) -> Org:
        org = Org(org_id=f"org_{uuid.uuid4().hex[:12]}", webhook_token=_secret("whk_"))
        with self.lock:
            self.orgs[org.org_id] = org
            self.orgs_by_token[org.webhook_token] = org
        return org

    def add_key(self, org_id: str, scopes: frozenset[str], *, revoked: bool = False) -> ApiKey:
        key = ApiKey(secret=_secret("sk_test_"), org_id=org_id, scopes=scopes, revoked=revoked)
        with self.lock:
            self.keys[key.secret] = key
        return key

    def add_call(self, org_id: str, status: str, **fields: Any) -> Call:
        """A new call; `StoreFull` if there is no room for it (nothing is added then)."""
        for name in ("additional_info", "transcript"):
            if name in fields:
                fields[name] = _packed(fields[name])
        weight = sum(len(value) if isinstance(value, str) else 8 for value in fields.values())
        call = Call(call_id=str(uuid.uuid4()), org_id=org_id, status=status, weight=weight, **fields)
        with self.lock:
            if len(self.calls) >= self.max_calls or self.call_bytes + weight > self.max_call_bytes:
                raise StoreFull()
            if self.free_ids and self.fault("id-recycled"):
                call.call_id = self.free_ids.pop()  # the id column's free list
            if self.faults and any(self.fault(f) for f in CONTACT_BOOK_FAULTS):
                self._remember_contact(call)
            if self.faults and self.fault("lagging-replica"):
                self.born[call.call_id] = self.clock()
            self.calls[call.call_id] = call
            self.call_bytes += weight
        return call

    def visible_call(self, org_id: str, call_id: str, *, any_org: bool = False) -> Call | None:
        """The call with exactly this id, if it belongs to `org_id` (hold `lock`)."""
        if self.restores:
            self._late_sync()
        call = self.calls.get(call_id)
        if call is None and self.faults:
            call = self._loose_match(call_id)
        if call is not None:
            self._progress(call)
        return call if call is not None and (any_org or call.org_id == org_id) else None

    def schedule_completion(self, call: Call) -> None:
        """A call created through the public API completes by itself, if the mock is set to."""
        if self.auto_complete is not None:
            call.started_at = self.clock()
            call.completes_at = call.started_at + self.auto_complete

    def _progress(self, call: Call) -> None:
        """Telephony's part, done late and lazily: where the clock says the call is by now."""
        if call.completes_at is None or call.started_at is None or call.status not in ("queued", "in_progress"):
            return
        now = self.clock()
        if now >= call.completes_at:
            call.transcript = _packed([{"speaker": "agent", "text": f"Hello {call.contact_name or 'there'}, goodbye."}])
            call.recording_url = f"https://recordings.example.invalid/{call.call_id}.mp3"
            call.duration_seconds = max(1, round(call.completes_at - call.started_at))
            call.move("completed")
        elif call.status == "queued" and now >= (call.started_at + call.completes_at) / 2:
            call.move("in_progress")

    def _loose_match(self, call_id: str) -> Call | None:
        for call in self.calls.values():
            if (
                (self.fault("loose-id-prefix") and len(call_id) >= 8 and call.call_id.startswith(call_id))
                or (self.fault("loose-id-case") and call.call_id.lower() == call_id.lower())
                or (self.fault("loose-id-whitespace") and call.call_id == call_id.strip())
            ):
                return call
        return None

    def erase(self, call: Call) -> None:
        """Forget the call and every record that holds its PII (hold `lock`)."""
        del self.calls[call.call_id]
        self.call_bytes -= call.weight
        if self.faults:
            self._erase_by_fault(call)
        if self.fault("idempotency-kept-after-delete"):
            return  # the idempotency table is a cache: nobody thought of it
        stale = [k for k, rec in self.idempotency.items() if rec.call_id == call.call_id]
        for key in stale:
            del self.idempotency[key]

    def _erase_by_fault(self, call: Call) -> None:
        """What faults remember of a deleted call, or wrongly erase with it."""
        if any(self.fault(f) for f in ("repeat-delete-200", "erasure-keeps-recording", "pii-in-error")):
            self.tombstones[call.call_id] = call
        if any(self.fault(f) for f in DELETED_AT_FAULTS):
            self.deleted_at[call.call_id] = (call.org_id, self.clock())
        if self.fault("lagging-replica"):
            self.replica_ghosts[call.call_id] = (self.born.get(call.call_id, self.clock()), self.clock(), call)
        if self.fault("delete-restored-later"):
            self.restores.append((self.clock() + 0.3, call))  # the provider's late status sync upserts it
        if self.fault("id-recycled"):
            self.free_ids.append(call.call_id)
        if self.fault("delete-erases-by-number"):  # "erase the data subject", in every organisation
            for other in self.calls.values():
                if other.contact_number == call.contact_number:
                    other.contact_name = other.contact_email = None
        if any(self.fault(f) for f in CONTACT_BOOK_FAULTS):
            self._purge_contact(call)

    def _late_sync(self) -> None:
        """Fault "delete-restored-later": due syncs write the deleted calls back (hold `lock`)."""
        now = self.clock()
        due = [call for at, call in self.restores if at <= now]
        self.restores = [(at, call) for at, call in self.restores if at > now]
        for call in due:
            if call.call_id not in self.calls:
                self.calls[call.call_id] = call
                self.call_bytes += call.weight

    def _remember_contact(self, call: Call) -> None:
        """The contact book, kept only by faults: the last name, email and info seen for a number."""
        entry = self.contact_book.setdefault((call.org_id, call.contact_number), {})
        if call.contact_name is not None:
            name = call.contact_name
            if self.fault("emoji-name-survives-erasure"):
                name = _utf8mb3(name)  # the book's column holds three-byte UTF-8 only
            entry["contact_name"] = name
        if call.contact_email is not None:
            entry["contact_email"] = call.contact_email
        if call.additional_info != "{}":
            entry["additional_info"] = _unpacked(call.additional_info)

    def _purge_contact(self, call: Call) -> None:
        key = (call.org_id, call.contact_number)
        entry = self.contact_book.get(key)
        if entry is None or self.fault("contact-book-autofill"):
            return  # "contact-book-autofill": the book is never purged
        kept: dict[str, Any] = {}
        if self.fault("emoji-name-survives-erasure") and entry.get("contact_name") not in (None, call.contact_name):
            kept["contact_name"] = entry["contact_name"]  # purged WHERE name = the raw name: escaped rows stay
        info = entry.get("additional_info")
        if self.fault("nested-info-survives-erasure") and isinstance(info, dict):
            nested = {k: v for k, v in info.items() if isinstance(v, dict | list)}  # the scrubber takes strings only
            if nested:
                kept["additional_info"] = nested
        if kept:
            self.contact_book[key] = kept
        else:
            del self.contact_book[key]

    def autofill(self, org_id: str, fields: dict[str, Any]) -> None:
        """Fill a new call's missing contact fields from the contact book (faults only)."""
        entry = self.contact_book.get((org_id, fields.get("contact_number", "")))
        for name, value in (entry or {}).items():
            fields.setdefault(name, value)

    def reset(self) -> None:
        with self.lock:
            for table in (self.orgs, self.orgs_by_token, self.keys, self.calls, self.idempotency, self.tombstones):
                table.clear()
            for memory in (self.deleted_at, self.contact_book, self.read_cache, self.cancelled_at, self.born):
                memory.clear()
            self.restores, self.free_ids = [], []
            self.replica_ghosts.clear()
            self.call_bytes = 0


CONTACT_BOOK_FAULTS = ("contact-book-autofill", "emoji-name-survives-erasure", "nested-info-survives-erasure")
DELETED_AT_FAULTS = ("repeat-delete-grace-200", "repeat-delete-after-pause-500", "webhook-repeat-delete-200")


def _utf8mb3(text: str) -> str:
    """Characters beyond the BMP as the JSON escapes of their surrogate pair (a utf8mb3 column's workaround)."""
    return "".join(json.dumps(c)[1:-1] if ord(c) > 0xFFFF else c for c in text)


def _secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(24)
