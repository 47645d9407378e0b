"""Helpers the properties share: unchanged-call checks and failing credentials."""

from __future__ import annotations

import json
from typing import Any

from .. import calls
from ..checks import Context
from ..client import Exchange
from ..environment import Tenant

__all__ = ["STATES", "bad_auths", "expect_unchanged"]

STATES = ("queued", "initiated", "ringing", "in_progress", "completed", "failed", "cancelled")


def expect_unchanged(
    ctx: Context, requirement: str, tenant: Tenant, call_id: str, before: Any, *exchanges: Exchange
) -> None:
    after = calls.snapshot(ctx.client, call_id, tenant.auth())
    ctx.expect(
        requirement,
        after == before,
        f"a refused request changed the call: before {json.dumps(before)[:300]}, after {json.dumps(after)[:300]}",
        *exchanges,
    )


def bad_auths(ctx: Context) -> dict[str, tuple[dict[str, str], str]]:
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
