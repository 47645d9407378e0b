"""Which dimensions of the contract each requirement was judged along (issue 13): the credential
form, the transport, the method, the call's state at the time of the request, the kind of data it
was seeded with, the timing, the concurrency and the repetition.

`Coverage` notes the values of every exchange as the client shows it (before the ledger learns what
its answer says, so a call's state is the one it had when the request went). What the exchange
alone cannot tell is tagged in one place, by the code that knows, with `Coverage.tagged`: the
concurrent helpers (`concurrency="concurrent"`) and the property that pauses (`timing="after the
pause"`). `Context.expect` (and the schema layer's counting) hand the exchanges each requirement
was judged on to `Results.cover`: a value is listed for a requirement only if an exchange with it
was judged for that requirement.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Literal
from urllib.parse import unquote, urlsplit

from conformance.http.client import Exchange
from conformance.layers.results import Axis, Value
from conformance.layers.seed_data import kinds_of_data
from conformance.target.environment import Environment, Tenant
from conformance.target.safety import segment_id

__all__ = ["Concurrency", "Coverage", "Timing"]

Timing = Literal["at once", "after the pause"]
Concurrency = Literal["sequential", "concurrent"]
DEFAULT_TAGS: tuple[Value, ...] = (("timing", "at once"), ("concurrency", "sequential"))
MAX_SEEN = 1 << 16  # exchanges whose values are kept for the checks still to judge them
VARIANT = "adversarial variant"  # a real key or token altered, or used where the other kind goes


class Coverage:
    """The dimension values of every exchange of the run (see the module's docstring)."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self._seen: dict[int, tuple[Exchange, frozenset[Value]]] = {}
        self._done: set[tuple[str, str]] = set()  # (op, call id) of every cancel and delete that answered 200
        self._data: dict[str, tuple[Value, ...]] = {}  # call id -> the kinds of data it was seeded with
        self._local = threading.local()

    @contextmanager
    def tagged(self, *, timing: Timing | None = None, concurrency: Concurrency | None = None) -> Iterator[None]:
        """Exchanges sent inside, from this thread, carry these values (else "at once", "sequential")."""
        saved: dict[Axis, str] = getattr(self._local, "tags", {})
        given: dict[Axis, str | None] = {"timing": timing, "concurrency": concurrency}
        self._local.tags = saved | {axis: value for axis, value in given.items() if value is not None}
        try:
            yield
        finally:
            self._local.tags = saved

    def observe(self, exchange: Exchange) -> None:
        """Note `exchange`'s values: the client's first observer, in the thread that sent it."""
        tags: dict[Axis, str] = getattr(self._local, "tags", {})
        values = self.derived(exchange)
        if values:  # none for the fixtures API's
            values += [*(v for v in DEFAULT_TAGS if v[0] not in tags), *tags.items()]
        if len(self._seen) >= MAX_SEEN:
            del self._seen[next(iter(self._seen))]
        self._seen[id(exchange)] = (exchange, frozenset(values))

    def values(self, exchange: Exchange) -> frozenset[Value]:
        """The values noted for `exchange` (none for the fixtures API's); for one the client never
        showed, what it tells alone."""
        found = self._seen.get(id(exchange))
        if found is not None and found[0] is exchange:
            return found[1]
        return frozenset(_request(exchange, urlsplit(exchange.url).path, self._credentials)[0])

    def derived(self, exchange: Exchange) -> list[Value]:
        """What the exchange and the environment tell: all but the tags."""
        credentials, path = self._credentials, urlsplit(exchange.url).path
        values, sent = _request(exchange, path, credentials)
        named = _named_call(exchange, path) if values else None
        if named is None:
            return values
        op, call_id = named
        if call_id is None:
            return [*values, ("call_state", "none (a create)")]
        values.append(("call_state", self._state(call_id, _sender(sent, credentials))))
        values += self._kinds(call_id)
        if op in ("cancel", "delete"):
            values.append(("repetition", "repeat" if (op, call_id) in self._done else "first"))
            if exchange.status == 200:
                self._done.add((op, call_id))
        return values

    @cached_property
    def _credentials(self) -> Credentials:
        """Every real key and token of the run (all made when the environment was set up)."""
        found: dict[str, tuple[str, str]] = {}
        for tenant in (self.env.a, self.env.b):
            for key in _keys_of(tenant):
                found[key] = ("key", tenant.name)
            if tenant.webhook_token:
                found[tenant.webhook_token] = ("token", tenant.name)
        return Credentials(found, tuple(k.lower() for k in found))

    def _state(self, call_id: str, sender: str | None) -> str:
        entry = self.env.ledger.entries.get(call_id)
        if entry is None:
            return "never existed"
        if sender is not None and sender != entry.org:
            return "other organisation's"
        return "deleted" if entry.gone else entry.state or "unknown"

    def _kinds(self, call_id: str) -> tuple[Value, ...]:
        found = self._data.get(call_id)
        if found is None:
            pii = self.env.pii_of.get(call_id)  # none yet while its seeder still moves it (api seeder)
            if pii is None:
                return ()
            found = self._data[call_id] = tuple(("data", kind) for kind in kinds_of_data(pii))
        return found


def _keys_of(tenant: Tenant) -> list[str]:
    return [k for k in (tenant.key, tenant.limited_key, tenant.revoked_key, *tenant.keys_without.values()) if k]


def _request(exchange: Exchange, path: str, credentials: Credentials) -> tuple[list[Value], list[str]]:
    """Transport, method and credential form: what the request (to `path`) alone tells; and the
    credentials it carries."""
    if "/_fixtures/" in path:
        return [], []  # the fixtures API is not the contract's: no dimension of it
    values: list[Value] = [("method", exchange.method)]
    if "/v1/hooks/" in path:
        token = unquote(path.split("/v1/hooks/", 1)[1].rstrip("/"))
        values += [("transport", "webhook"), ("credential", "webhook token")]
        return values + [("credential", VARIANT)] * _variant(token, "token", credentials), [token]
    values.append(("transport", "REST"))
    forms, keys = _rest_credentials(exchange.headers, credentials)
    return values + forms, keys


def _rest_credentials(headers: dict[str, str], credentials: Credentials) -> tuple[list[Value], list[str]]:
    authorization = api_key = None
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "authorization":
            authorization = value
        elif lowered == "x-api-key":
            api_key = value
    if authorization is None:
        form, keys = ("none", []) if api_key is None else ("x-api-key", [api_key])
        return _form(form, keys, credentials), keys
    scheme, _, key = authorization.partition(" ")
    bearer = scheme.lower() == "bearer"
    form = "Authorization: Bearer" if bearer else "Authorization: other scheme"
    form = "both headers" if api_key is not None else form
    keys = [key if bearer else authorization, *([api_key] if api_key is not None else [])]
    return _form(form, keys, credentials), keys


def _form(form: str, keys: list[str], credentials: Credentials) -> list[Value]:
    """The form sent, and whether any of its `keys` is a variant of a real credential."""
    values: list[Value] = [("credential", form)]
    if any(_variant(k, "key", credentials) for k in keys):
        values.append(("credential", VARIANT))
    return values


@dataclass(frozen=True)
class Credentials:
    """The run's real keys and tokens -> (kind, "key" or "token"; organisation); and each in lower case."""

    real: dict[str, tuple[str, str]]
    folded: tuple[str, ...]


def _variant(sent: str, kind: str, credentials: Credentials) -> bool:
    """Whether `sent` is a real credential of the other kind, or one of `kind` altered: a prefix, an
    extension, another case, whitespace around it."""
    real = credentials.real.get(sent)
    if real is not None:
        return real[0] != kind
    folded = sent.strip().lower()
    return bool(folded) and any(folded in k or k in folded for k in credentials.folded)


def _sender(sent: list[str], credentials: Credentials) -> str | None:
    """The organisation whose real credentials the request carries (None: none, or two that disagree)."""
    orgs = {credentials.real[s][1] for s in sent if s in credentials.real}
    return orgs.pop() if len(orgs) == 1 else None


def _named_call(exchange: Exchange, path: str) -> tuple[str, str | None] | None:
    """(operation, call id) the request to `path` names; (op, None) for a create; None for anything else."""
    if "/v1/hooks/" in path:
        body = exchange.sent_json()
        data = body.get("data") if isinstance(body, dict) else None
        action = body.get("action") if isinstance(body, dict) else None
        if action == "call.create":
            return "create", None
        call_id = data.get("call_id") if isinstance(data, dict) else None
        op = action.removeprefix("call.") if isinstance(action, str) else "unknown"
        return (op, call_id) if isinstance(call_id, str) else None
    rest = path[path.find("/v1/calls") :].split("/") if "/v1/calls" in path else []
    if rest[:3] == ["", "v1", "calls"] and len(rest) == 3:
        return ("create", None) if exchange.method == "POST" else None
    if len(rest) >= 4 and rest[:3] == ["", "v1", "calls"]:
        cancel = rest[4:5] == ["cancel"]
        op = "cancel" if cancel and exchange.method == "POST" else {"DELETE": "delete"}.get(exchange.method, "read")
        return op, segment_id(rest[3])
    return None
