"""Safety against live systems: which cancels and deletes the suite may send at all.

Every request goes through `Guard.check` before it is sent (the client's gate). A cancel or a
delete, over REST or the webhook, is destructive:

- it names an id the suite vouched for, or it is not sent: a call the suite created or took from
  the pool, a variant the suite crafted from such an id, or an id it generated itself (a fresh
  random UUID, or junk such as `..`). Anything else is a bug of the suite, reported as one;
- against a target that is not on loopback, it needs `--allow-destructive`; without it the check
  that wanted to send it is "not exercised". The clean-up of the suite's own calls is exempt:
  it sends only exact ids from the ledger, after reading each call back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from .errors import NotExercised

__all__ = ["Guard", "UnsafeRequest", "destructive_target"]

_REST = re.compile(r"^/v1/calls/([^/?#]*)(/cancel)?/?(?:[?#].*)?$")
_HOOK = re.compile(r"^/v1/hooks/[^/?#]*/?$")
DESTRUCTIVE_ACTIONS = ("call.cancel", "call.delete")
NOT_ALLOWED = "cancel and delete on a target that is not on loopback need --allow-destructive"


class UnsafeRequest(Exception):
    """The suite was about to cancel or delete an id it did not make: its own bug, never sent."""


def _decoded(segment: str) -> str:
    return unquote(segment, errors="surrogateescape")


def destructive_target(method: str, path: str, body: bytes | None) -> str | None:
    """The call id a cancel or delete names (REST path, or the webhook's `data.call_id`), else None."""
    rest = _REST.match(path)
    if rest is not None and ((method == "DELETE" and not rest.group(2)) or (method == "POST" and rest.group(2))):
        return _decoded(rest.group(1))
    if method == "POST" and _HOOK.match(path) and body:
        try:
            data: Any = json.loads(body)
        except ValueError:
            return None
        if isinstance(data, dict) and data.get("action") in DESTRUCTIVE_ACTIONS and isinstance(data.get("data"), dict):
            call_id = data["data"].get("call_id")
            return call_id if isinstance(call_id, str) else None
    return None


class Guard:
    """The ids the suite vouches for, and whether destructive requests are allowed on this target."""

    def __init__(self, *, destructive_allowed: bool) -> None:
        self.destructive_allowed = destructive_allowed
        self._vouched: set[str] = set()

    def vouch(self, ids: Iterable[str]) -> None:
        """Ids (decoded) the suite may cancel or delete: its own calls and what it derived from them."""
        self._vouched.update(ids)

    def vouch_segments(self, segments: Iterable[str]) -> None:
        """The same, for raw (percent-encoded) path segments."""
        self.vouch(_decoded(s) for s in segments)

    def vouched(self, call_id: str) -> bool:
        return call_id in self._vouched

    def check(self, method: str, path: str, body: bytes | None, *, cleanup: bool = False) -> None:
        call_id = destructive_target(method, path, body)
        if call_id is None:
            return
        if call_id not in self._vouched:
            raise UnsafeRequest(
                f"refused to send {method} {path[:120]}: {call_id[:60]!r} is no id the suite created or"
                " derived (a bug of the suite: please report it)"
            )
        if not (self.destructive_allowed or cleanup):
            raise NotExercised(NOT_ALLOWED)
