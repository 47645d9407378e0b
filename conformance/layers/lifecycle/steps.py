"""A step of the lifecycle machine (who does what to which id), the credentials steps draw from,
and how an answer is told and compared: its description, its REST/webhook signature, and MUST
failures told apart per requirement so that hypothesis shrinks each on its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from conformance.contract import model
from conformance.contract.model import Auth, TargetId
from conformance.contract.predictions import Prediction
from conformance.errors import Failure
from conformance.http.client import Exchange
from conformance.layers import strategies
from conformance.target.environment import Tenant

__all__ = [
    "ACTING_OP",
    "OPS",
    "VALID_KEY_KINDS",
    "Step",
    "auth_draws",
    "changed",
    "data_of",
    "describe_statuses",
    "distinct",
    "signature",
    "unique",
]

VALID_KEY_KINDS = ("bearer", "x-api-key", "both")
ACTING_OP: dict[str, model.Op] = {"queued": "cancel", "cancelled": "cancel", "completed": "delete"}
OPS: dict[str, tuple[model.Op, ...]] = {"rest": ("get", "cancel", "delete"), "webhook": ("cancel", "delete")}


@dataclass(frozen=True)
class Step:
    auth: Auth
    op: model.Op
    target: TargetId

    def describe(self, prediction: Prediction) -> str:
        """One line for a failure title: `rest cancel of 'id' (own id, call queued) as bearer of A`."""
        segment = self.target.raw_segment
        where = segment[:48] + ("..." if len(segment) > 48 else "")
        how = f", {self.target.how}" if self.target.how else ""
        state = f", call {prediction.state}" if prediction.state else ""
        who = f"{self.auth.kind} ({self.auth.form}) of {self.auth.org or 'nobody'}"
        return f"{self.auth.transport} {self.op} of {where!r} ({prediction.category} id{how}{state}) as {who}"


def auth_draws(tenants: list[Tenant]) -> dict[str, st.SearchStrategy[Auth]]:
    """The credentials rules draw from: "key" and "token" valid ones, "refused rest" and
    "refused webhook" every other kind these tenants' credentials allow."""
    found = {
        "key": strategies.rest_auths(tenants, kinds=VALID_KEY_KINDS),
        "refused rest": strategies.rest_auths(tenants, exclude=VALID_KEY_KINDS),
    }
    if any(t.webhook_token for t in tenants):
        found["token"] = strategies.hook_auths(tenants, kinds=["token"])
    found["refused webhook"] = strategies.hook_auths(tenants, kinds=["unknown-token"])
    return found


def data_of(exchange: Exchange) -> Any:
    body = exchange.json()
    return body.get("data") if exchange.status == 200 and isinstance(body, dict) else None


def changed(before: Any, after: Any) -> str:
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return f"before {json.dumps(before)[:200]}, after {json.dumps(after)[:200]}"
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return "; ".join(f"{k}: {json.dumps(before.get(k))[:80]} -> {json.dumps(after.get(k))[:80]}" for k in keys)


def unique(exchanges: tuple[Exchange, ...]) -> tuple[Exchange, ...]:
    found: list[Exchange] = []
    for exchange in exchanges:
        if not any(exchange is seen for seen in found):
            found.append(exchange)
    return tuple(found)


def signature(exchange: Exchange, call_id: str) -> str:
    return f"{exchange.outcome()} {json.dumps(model.listed_shape(exchange.json(), call_id))}"


_FAILURE_KINDS: dict[str, type[Failure]] = {}


@contextmanager
def distinct() -> Iterator[None]:
    """Re-raise a MUST failure as a subclass of its own per requirement: hypothesis tells bugs
    apart by exception type and place, so each requirement is shrunk and reported on its own
    instead of all of them collapsing into the simplest failing run of any."""
    try:
        yield
    except Failure as failure:
        name = "Failure_" + failure.requirement.replace("-", "_")
        kind = _FAILURE_KINDS.setdefault(failure.requirement, type(name, (Failure,), {}))
        raise kind(failure.requirement, failure.title, failure.exchanges) from None


def describe_statuses(statuses: frozenset[int]) -> str:
    if statuses == model.ANY_4XX:
        return "a 4xx"
    if statuses == model.NOT_RESOLVED:
        return "a 4xx other than 409"
    if statuses == model.NO_5XX:
        return "no 5xx"
    if statuses == model.NOT_401:
        return "anything but 401"
    return "/".join(map(str, sorted(statuses)))
