"""The safety of the ids schemathesis draws: cancels and deletes go only to calls the suite made,
and only where the target allows destructive operations (`--allow-destructive`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from conformance.errors import NotExercised
from conformance.layers.schema.configuration import Case
from conformance.target.environment import Environment
from conformance.target.safety import DESTRUCTIVE_ACTIONS, NOT_ALLOWED

__all__ = ["aim_safely", "need_destructive"]


def need_destructive(env: Environment) -> None:
    if not env.guard.destructive_allowed:
        raise NotExercised(NOT_ALLOWED)


def aim_safely(env: Environment, case: Case) -> None:
    """Cancels and deletes go only to ids the suite made: a drawn id of no call of the suite's
    becomes that id behind a fresh random UUID, which keeps its oddity and names no call of anyone's."""
    method = case.method.upper()
    params = case.path_parameters or {}
    body: dict[str, Any] | None = case.body if isinstance(case.body, dict) else None
    holder: dict[str, Any] | None = None
    if method == "DELETE" or case.operation.path.endswith("/cancel"):
        holder = params
    elif body is not None and body.get("action") in DESTRUCTIVE_ACTIONS and isinstance(body.get("data"), dict):
        holder = body["data"]
    if holder is None or not isinstance(holder.get("call_id"), str):
        return
    if not env.guard.vouched(holder["call_id"]):  # behind 128 random bits: no one's call, even a reused id
        holder["call_id"] = env.never_existing_id() + holder["call_id"]
        env.guard.craft(holder["call_id"])
    path = f"/v1/calls/{quote(holder['call_id'], safe='')}" + ("/cancel" if method == "POST" else "")
    sent = json.dumps(body).encode() if holder is not params else None
    env.guard.check(method, "/v1/hooks/x" if sent else path, sent)
