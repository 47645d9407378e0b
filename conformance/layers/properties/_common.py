"""Helpers the properties share: unchanged-call checks, failing credentials, and what to try."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from conformance.contract.model import forward_moves
from conformance.http.client import Exchange
from conformance.layers.checks import Context
from conformance.target import calls
from conformance.target.environment import Tenant

__all__ = [
    "STATE_KINDS",
    "BadAuth",
    "Sample",
    "bad_auths",
    "expect_unchanged",
    "expect_unchanged_by",
    "kinds_of",
    "lasting_state",
    "seeded",
]

T = TypeVar("T")

# Where a call is in its life: not started, under way, ended, cancelled. In `STATES` order.
STATE_KINDS = (("queued",), ("initiated", "ringing", "in_progress"), ("completed", "failed"), ("cancelled",))


class Sample:
    """What a property tries, by the budget's breadth: at "every", every item of every kind; at
    "sample", one item of each kind, drawn by the seed (`name` keys the draws, so that a check
    draws the same whatever else runs)."""

    def __init__(self, ctx: Context, name: str) -> None:
        self.every = ctx.config.budget.breadth == "every"
        self.rng = random.Random(f"{ctx.config.seed}:{name}")

    def each(self, kinds: Iterable[Sequence[T]]) -> list[T]:
        """Every item of every (non-empty) kind, in order; or one of each."""
        found = [kind for kind in kinds if kind]
        return [item for kind in found for item in kind] if self.every else [self.rng.choice(k) for k in found]

    def one(self, items: Sequence[T]) -> list[T]:
        """Every item, in order; or one of them."""
        return self.each([items])


def kinds_of(kinds: Iterable[Sequence[T]], wanted: Iterable[T]) -> list[tuple[T, ...]]:
    """`kinds`, each only with the items of `wanted` (empty kinds dropped)."""
    keep = set(wanted)
    return [narrowed for kind in kinds if (narrowed := tuple(item for item in kind if item in keep))]


def lasting_state(ctx: Context) -> str:
    """The state a call that every operation finds is seeded in: completed where this target can make
    one (delete acts on it, cancel refuses), else queued."""
    return "completed" if ctx.env.can_seed("completed") else "queued"


def seeded(ctx: Context, tenant: Tenant, state: str | None = None) -> tuple[str, Any]:
    """A new call of `tenant` in `state` (by default `lasting_state`), and the call as GET shows it
    now: what a request that must not change it is compared with (`expect_unchanged`)."""
    call_id = ctx.env.seed_call(tenant, state or lasting_state(ctx))
    return call_id, calls.snapshot(ctx.client, call_id, tenant.auth())


def expect_unchanged(
    ctx: Context, requirement: str, tenant: Tenant, call_id: str, before: Any, *exchanges: Exchange
) -> None:
    ctx.expect(requirement, *_unchanged(ctx, tenant, call_id, before), *exchanges)


def expect_unchanged_by(
    ctx: Context, requirements: Sequence[str], tenant: Tenant, call_id: str, before: Any, *exchanges: Exchange
) -> None:
    """One read back after `exchanges` of several requirements, each of which says the call stays as it was."""
    same, title = _unchanged(ctx, tenant, call_id, before)
    with ctx.deferred():
        for requirement in dict.fromkeys(requirements):
            ctx.expect(requirement, same, title, *exchanges)


def _unchanged(ctx: Context, tenant: Tenant, call_id: str, before: Any) -> tuple[bool, str]:
    after = calls.snapshot(ctx.client, call_id, tenant.auth())
    same = after == before or (not ctx.env.can_seed_any_state and moved_on(before, after))
    return same, (
        f"a refused request changed the call: before {json.dumps(before)[:300]}, after {json.dumps(after)[:300]}"
    )


# What telephony changes as it moves a call on (contract sections 4 and 5).
PROGRESS_FIELDS = frozenset({"status", "updated_at", "transcript", "recording_url", "duration_seconds"})


def moved_on(before: Any, after: Any) -> bool:
    """`after` is `before` moved forward by telephony alone: a later status of section 4 and what comes
    with it, everything else as it was. Without the fixtures API the suite's calls are made through the
    public API, and the target may move them on while a check runs (a staging's test agents): that is
    no change made by the refused request."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return False
    rest = (before.keys() | after.keys()) - PROGRESS_FIELDS
    return after.get("status") in forward_moves(before.get("status")) and all(
        before.get(k) == after.get(k) for k in rest
    )


BadAuth = tuple[dict[str, str], str]  # the headers, and the requirement their 401 proves


def bad_auths(ctx: Context) -> dict[str, BadAuth]:
    """Failing credentials for REST, each with the requirement its 401 proves."""
    a, b = ctx.env.a, ctx.env.b
    unknown = f"sk_test_unknown{ctx.env.rng.getrandbits(64):016x}"
    key = a.need_key()
    other = b.key or unknown
    found = {
        "missing": ({}, "AUTH-MISSING-401"),
        "empty x-api-key": ({"x-api-key": ""}, "AUTH-MALFORMED-401"),
        "bearer without a key": ({"Authorization": "Bearer"}, "AUTH-MALFORMED-401"),
        "no scheme": ({"Authorization": key}, "AUTH-MALFORMED-401"),
        "basic scheme": ({"Authorization": f"Basic {key}"}, "AUTH-MALFORMED-401"),
        "unknown key": ({"x-api-key": unknown}, "AUTH-UNKNOWN-401"),
        "key in other case": ({"x-api-key": key.swapcase()}, "AUTH-UNKNOWN-401"),
        "headers disagree": (
            {"Authorization": f"Bearer {key}", "x-api-key": other},
            "AUTH-HEADERS-DISAGREE-401",
        ),
    }
    if a.revoked_key:
        found["revoked key"] = ({"Authorization": f"Bearer {a.revoked_key}"}, "AUTH-REVOKED-401")
    else:
        ctx.results.skip(("AUTH-REVOKED-401",), "no revoked key: only the fixtures API can make one")
    return found
