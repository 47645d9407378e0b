"""The lifecycle model's words: call states and telephony's moves, operations and their scopes,
call fields and PII, the kinds of credential, the caller and the id an operation names, the world
of calls the state machine made, and the body shapes of the contract's answers (contract sections
2 to 6). What the contract predicts for an operation is `conformance.contract.predictions`.

Plain data, no HTTP and no hypothesis.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

if TYPE_CHECKING:
    from conformance.contract.predictions import Prediction

__all__ = [
    "ACCEPTED_KINDS",
    "ANY_4XX",
    "AUTH_KINDS",
    "CALL_FIELDS",
    "CHECKED",
    "COMPLETED_FIELDS",
    "FORWARD",
    "LISTED_KEYS",
    "NOT_401",
    "NOT_RESOLVED",
    "NO_5XX",
    "PII_FIELDS",
    "REACHED_CODE",
    "REFUSED_KINDS",
    "SCOPES",
    "SCOPE_OF",
    "STATES",
    "Auth",
    "Category",
    "Effect",
    "ModelCall",
    "Op",
    "Org",
    "Shape",
    "TargetId",
    "Transport",
    "World",
    "body_ok",
    "forward_moves",
    "listed_fields",
    "listed_shape",
    "pii_of",
    "pii_strings",
]

Org = Literal["A", "B"]
Transport = Literal["rest", "webhook"]
Op = Literal["get", "cancel", "delete"]
Effect = Literal["unchanged", "cancelled", "gone"]
Shape = Literal["call", "cancelled", "deleted"]
Category = Literal["own", "foreign", "gone", "never", "variant", "unroutable"]

STATES = ("queued", "initiated", "ringing", "in_progress", "completed", "failed", "cancelled")
# Telephony's steps (section 4); queued -> cancelled is the cancel operation, not telephony.
_NEXT: dict[str, tuple[str, ...]] = {
    "queued": ("initiated",),
    "initiated": ("ringing", "failed"),
    "ringing": ("in_progress", "failed"),
    "in_progress": ("completed", "failed"),
}
SCOPES = ("calls:create", "calls:read", "calls:cancel", "calls:delete")  # every scope a key can hold (section 2)
SCOPE_OF: dict[Op, str] = {"get": "calls:read", "cancel": "calls:cancel", "delete": "calls:delete"}  # each operation's
CALL_FIELDS = (
    *("call_id", "status", "agent_id", "contact_number", "contact_name", "contact_email"),
    *("additional_info", "created_at", "updated_at"),
)
COMPLETED_FIELDS = ("transcript", "recording_url", "duration_seconds")
PII_FIELDS = (*("contact_number", "contact_name", "contact_email", "additional_info", "transcript", "recording_url"),)

# Credentials that authenticate (a key, possibly lacking scopes, or a webhook token), and those
# that do not, with the requirement that names their 401.
ACCEPTED_KINDS = ("bearer", "x-api-key", "both", "lacking-scope", "token")
REFUSED_KINDS: dict[str, str] = {
    "disagree": "AUTH-HEADERS-DISAGREE-401",
    "missing": "AUTH-MISSING-401",
    "empty": "AUTH-MALFORMED-401",
    "malformed": "AUTH-MALFORMED-401",
    "unknown": "AUTH-UNKNOWN-401",
    "revoked": "AUTH-REVOKED-401",
    "unknown-token": "HOOK-UNKNOWN-TOKEN-401",
}
AUTH_KINDS = (*ACCEPTED_KINDS, *REFUSED_KINDS)

ANY_4XX = frozenset(range(400, 500))
NOT_RESOLVED = ANY_4XX - {409}  # a 409 CALL_NOT_CANCELLABLE means the id reached a call
REACHED_CODE = "CALL_NOT_CANCELLABLE"  # whatever its status (409 is a SHOULD): the id reached a call
NO_5XX = frozenset(range(100, 500))
NOT_401 = frozenset(range(100, 600)) - {401}

# Every requirement a prediction of this module can name (the lifecycle layer's marker).
CHECKED = (
    "AUTH-BEARER",
    "AUTH-X-API-KEY",
    *sorted(set(REFUSED_KINDS.values())),
    "HOOK-EQUIVALENCE",  # the state machine compares the two transports' answers cell by cell
    "AUTH-SCOPE-REFUSED",
    "AUTH-SCOPE-403",
    "AUTH-BEFORE-EXISTENCE",
    "TENANT-404",
    "TENANT-UNTOUCHED",
    "ID-ODD-NO-5XX",
    "ID-ODD-404",
    "ID-EXACT-MATCH",
    "GET-CALL",
    "CANCEL-QUEUED-200",
    "CANCEL-KEEPS-RECORD",
    "CANCEL-REPEAT-200",
    "CANCEL-PAST-QUEUED-REFUSED",
    "CANCEL-PAST-QUEUED-409",
    "CANCEL-NOT-FOUND-404",
    "DEL-COMPLETED-200",
    "DEL-GONE",
    "DEL-ERASURE",
    "DEL-REPEAT-404",
    "DEL-NOT-COMPLETED-404",
    "DEL-NOT-FOUND-404",
)


def _reachable(state: str) -> tuple[str, ...]:
    found: list[str] = []
    todo = list(_NEXT.get(state, ()))
    while todo:
        nxt = todo.pop(0)
        if nxt not in found:
            found.append(nxt)
            todo.extend(_NEXT.get(nxt, ()))
    return tuple(found)


FORWARD: dict[str, tuple[str, ...]] = {state: _reachable(state) for state in STATES}


def forward_moves(state: str | None) -> tuple[str, ...]:
    """Where telephony may move a call in `state` (one step or several); () once terminal or gone."""
    return FORWARD.get(state, ()) if state else ()


def pii_strings(pii: dict[str, Any]) -> frozenset[str]:
    """The strings of a call's PII that must appear in no response once it is deleted."""
    found = {str(pii.get(name) or "") for name in ("contact_number", "contact_name", "contact_email")}
    found.add(str(pii.get("recording_url") or ""))
    found |= {str(value) for value in (pii.get("additional_info") or {}).values()}
    found |= {str(entry.get("text", "")) for entry in pii.get("transcript") or ()}
    return frozenset(value for value in found if value)


def pii_of(data: Any) -> dict[str, Any]:
    """The PII fields of a call as GET shows it (`data`), for before/after comparisons."""
    return {name: data.get(name) for name in PII_FIELDS} if isinstance(data, dict) else {}


# -- what the state machine draws ---------------------------------------------------------------


@dataclass(frozen=True)
class Auth:
    """A caller: who the credential belongs to (`org`, None when it authenticates nobody) and how
    it is presented. Secrets are kept out of `repr`, which hypothesis prints."""

    kind: str  # one of AUTH_KINDS
    transport: Transport
    org: Org | None = None
    lacks: frozenset[str] = frozenset()  # scopes the key does not have
    form: str = ""  # how it is sent: "bearer", "x-api-key", "basic scheme", ...
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in AUTH_KINDS:
            raise ValueError(f"unknown auth kind {self.kind!r}")
        if (self.kind in REFUSED_KINDS) != (self.org is None):
            raise ValueError(f"a {self.kind!r} credential {'authenticates nobody' if self.org else 'needs an org'}")

    @property
    def refusal(self) -> str | None:
        """The requirement of the 401 this credential gets, or None when it authenticates."""
        return REFUSED_KINDS.get(self.kind)

    @property
    def acceptance(self) -> str:
        """The requirement that a REST key sent this way is accepted (both headers: as Bearer)."""
        return "AUTH-X-API-KEY" if self.form == "x-api-key" else "AUTH-BEARER"

    def header_dict(self) -> dict[str, str]:
        return dict(self.headers)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints drawn values with its own printer, which shows every field: not this."""
        printer.text(repr(self))


@dataclass(frozen=True)
class TargetId:
    """The id an operation names. `raw_segment` is sent as the path segment byte for byte (already
    percent-encoded); the webhook sends `decoded`. `call` is the existing call it names
    (kind "existing") or imitates (kind "variant")."""

    kind: Literal["existing", "never-existing", "variant"]
    raw_segment: str
    call: str | None = None
    how: str = ""  # the variant's trick: "prefix", "case", "slash", ...

    @property
    def decoded(self) -> str:
        return unquote(self.raw_segment, errors="strict")

    @property
    def routable(self) -> bool:
        """Whether the REST path names the call routes at all: a segment holding an (encoded)
        `/`, or a dot segment, may be refused as no route at all, before authentication."""
        return "/" not in self.decoded and self.decoded not in (".", "..")


@dataclass
class ModelCall:
    call_id: str
    org: Org
    state: str | None  # None: deleted, gone
    pii: dict[str, Any] = field(repr=False)
    snapshot: Any = field(default=None, repr=False)  # the call as GET last showed it (its "data")

    @property
    def gone(self) -> bool:
        return self.state is None


# -- the world ----------------------------------------------------------------------------------


@dataclass
class World:
    """Every call the state machine made, by id, with what the model knows of it."""

    calls: dict[str, ModelCall] = field(default_factory=dict)

    def add(self, call: ModelCall) -> None:
        self.calls[call.call_id] = call

    def __iter__(self) -> Iterator[ModelCall]:
        return iter(self.calls.values())

    def live(self) -> list[ModelCall]:
        return [call for call in self if not call.gone]

    def gone(self) -> list[ModelCall]:
        return [call for call in self if call.gone]

    def category(self, auth: Auth, target: TargetId) -> Category:
        if auth.transport == "rest" and not target.routable:
            return "unroutable"
        if target.kind == "variant":
            return "variant"
        call = self.calls.get(target.call or "")
        if target.kind == "never-existing" or call is None:
            return "never"
        if call.gone:
            return "gone"
        return "own" if call.org == auth.org else "foreign"

    def advance(self, call_id: str, state: str) -> None:
        call = self.calls[call_id]
        if state not in forward_moves(call.state):
            raise ValueError(f"telephony does not move a call from {call.state} to {state}")
        call.state = state

    def apply(self, prediction: Prediction) -> None:
        """The predicted change of state, once the answer was found conformant."""
        if prediction.victim is None or prediction.effect in (None, "unchanged"):
            return
        self.calls[prediction.victim].state = "cancelled" if prediction.effect == "cancelled" else None


# -- body shapes --------------------------------------------------------------------------------


def _call_ok(body: Any, call_id: str, state: str | None) -> bool:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("call_id") != call_id or data.get("status") != state:
        return False
    fields = CALL_FIELDS + (COMPLETED_FIELDS if state == "completed" else ())
    return all(name in data for name in fields)


LISTED_KEYS = frozenset({"data", "error", "code", "message", "success", "deleted", *CALL_FIELDS, *COMPLETED_FIELDS})


def listed_shape(body: Any, call_id: str) -> Any:
    """The structure of `body` as far as the contract lists its fields: keys and types, and whether a
    `call_id` is `call_id`. A field the contract does not list is left out: an extra field is never a
    violation by itself (contract 1.1, section 1), nor a difference between two answers."""
    if isinstance(body, dict):
        return {
            key: "the call's id" if key == "call_id" and value == call_id else listed_shape(value, call_id)
            for key, value in sorted(body.items())
            if key in LISTED_KEYS
        }
    if isinstance(body, list):
        return [listed_shape(value, call_id) for value in body[:1]]
    return type(body).__name__


def listed_fields(body: Any) -> Any:
    """`body` with only the fields the contract lists (values kept), for comparing two answers."""
    if isinstance(body, dict):
        return {key: listed_fields(value) for key, value in body.items() if key in LISTED_KEYS}
    return body


def body_ok(shape: Shape | None, body: Any, call_id: str, state: str | None = None) -> bool:
    """Whether `body` (JSON) has `shape` for the call `call_id` in `state`; any body for None."""
    if shape is None:
        return True
    if shape == "call":
        return _call_ok(body, call_id, state)
    if not isinstance(body, dict):
        return False
    if shape == "cancelled":
        message = body.get("message")
        expected = {"success": True, "call_id": call_id, "status": "cancelled"}
        # Types too: `1` is no `true`, whatever Python's `1 == True` says.
        return all(type(body.get(k)) is type(v) and body.get(k) == v for k, v in expected.items()) and isinstance(
            message, str
        )
    data = body.get("data")
    return isinstance(data, dict) and data.get("call_id") == call_id and data.get("deleted") is True
