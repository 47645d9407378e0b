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
        self._data: dict[str, tuple[str, ...]] = {}  # call id -> the kinds of data it was seeded with
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
        return frozenset(_stateless(exchange, self._credentials()))

    def derived(self, exchange: Exchange) -> list[Value]:
        """What the exchange and the environment tell: all but the tags."""
        credentials = self._credentials()
        values = _stateless(exchange, credentials)
        named = _named_call(exchange) if values else None
        if named is None:
            return values
        op, call_id = named
        if call_id is None:
            return [*values, ("call_state", "none (a create)")]
        values.append(("call_state", self._state(call_id, _sender(exchange, credentials))))
        values += [("data", kind) for kind in self._kinds(call_id)]
        if op in ("cancel", "delete"):
            values.append(("repetition", "repeat" if (op, call_id) in self._done else "first"))
            if exchange.status == 200:
                self._done.add((op, call_id))
        return values

    def _credentials(self) -> dict[str, tuple[str, str]]:
        """Every real key and token of the run -> (its kind, "key" or "token"; its organisation)."""
        found: dict[str, tuple[str, str]] = {}
        for tenant in (self.env.a, self.env.b):
            for key in _keys_of(tenant):
                found[key] = ("key", tenant.name)
            if tenant.webhook_token:
                found[tenant.webhook_token] = ("token", tenant.name)
        return found

    def _state(self, call_id: str, sender: str | None) -> str:
        entry = self.env.ledger.entries.get(call_id)
        if entry is None:
            return "never existed"
        if sender is not None and sender != entry.org:
            return "other organisation's"
        return "deleted" if entry.gone else entry.state or "unknown"

    def _kinds(self, call_id: str) -> tuple[str, ...]:
        found = self._data.get(call_id)
        if found is None:
            pii = self.env.pii_of.get(call_id)  # none yet while its seeder still moves it (api seeder)
            if pii is None:
                return ()
            found = self._data[call_id] = kinds_of_data(pii)
        return found


def _keys_of(tenant: Tenant) -> list[str]:
    return [k for k in (tenant.key, tenant.limited_key, tenant.revoked_key, *tenant.keys_without.values()) if k]


def _stateless(exchange: Exchange, credentials: dict[str, tuple[str, str]]) -> list[Value]:
    """Transport, method and credential form: what the request alone tells."""
    path = urlsplit(exchange.url).path
    if "/_fixtures/" in path:
        return []  # the fixtures API is not the contract's: no dimension of it
    values: list[Value] = [("method", exchange.method)]
    if "/v1/hooks/" in path:
        token = unquote(path.split("/v1/hooks/", 1)[1].rstrip("/"))
        values += [("transport", "webhook"), ("credential", "webhook token")]
        return values + [("credential", VARIANT)] * _variant(token, "token", credentials)
    values.append(("transport", "REST"))
    return values + _rest_credentials(exchange.headers, credentials)


def _rest_credentials(headers: dict[str, str], credentials: dict[str, tuple[str, str]]) -> list[Value]:
    sent = {name.lower(): value for name, value in headers.items()}
    authorization, api_key = sent.get("authorization"), sent.get("x-api-key")
    if authorization is None and api_key is None:
        return [("credential", "none")]
    scheme, _, key = (authorization or "").partition(" ")
    bearer = authorization is not None and scheme.lower() == "bearer"
    forms = {
        "both headers": authorization is not None and api_key is not None,
        "Authorization: Bearer": bearer and api_key is None,
        "Authorization: other scheme": authorization is not None and not bearer,
        "x-api-key": api_key is not None and authorization is None,
    }
    values: list[Value] = [("credential", form) for form, sent_so in forms.items() if sent_so]
    keys = [k for k in (key if bearer else authorization, api_key) if k is not None]
    return values + [("credential", VARIANT)] * any(_variant(k, "key", credentials) for k in keys)


def _variant(sent: str, kind: str, credentials: dict[str, tuple[str, str]]) -> bool:
    """Whether `sent` is a real credential of the other kind, or one of `kind` altered: a prefix, an
    extension, another case, whitespace around it."""
    real = credentials.get(sent)
    if real is not None:
        return real[0] != kind
    folded = sent.strip().lower()
    return bool(folded) and any(folded in k.lower() or k.lower() in folded for k in credentials)


def _sender(exchange: Exchange, credentials: dict[str, tuple[str, str]]) -> str | None:
    """The organisation whose real credential the request carries (None: none, or two that disagree)."""
    path = urlsplit(exchange.url).path
    if "/v1/hooks/" in path:
        sent = [unquote(path.split("/v1/hooks/", 1)[1].rstrip("/"))]
    else:
        sent = [v.partition(" ")[2] if k.lower() == "authorization" else v for k, v in exchange.headers.items()]
    orgs = {credentials[s][1] for s in sent if s in credentials}
    return orgs.pop() if len(orgs) == 1 else None


def _named_call(exchange: Exchange) -> tuple[str, str | None] | None:
    """(operation, call id) the request names; (op, None) for a create; None for anything else."""
    path = urlsplit(exchange.url).path
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
