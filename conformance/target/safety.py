"""Safety against live systems: which cancels and deletes the suite may send at all.

Every request goes through `Guard.check` before it is sent (the client's gate). A cancel or a
delete, over REST or the webhook, is destructive, and goes only to an id that cannot name a call
of anyone else's:

- an id the suite **owns**: a target answered it for one of the suite's creates in this run (or
  the user's pool lent it), and never for another create (`claim`);
- an id the suite **crafted** with a random part of at least 64 bits it drew itself: fresh random
  UUIDs, `call_<32 hex>`, an own id with 16 random hex digits added, a fuzzed id behind a UUID;
- an id that holds a character of a class the target's ids never hold (`IdAlphabet`): whitespace,
  `/`, `%`, `.`, upper case where every id is lower case, and so on. Truncations, and extensions
  within the alphabet (`call_102` from `call_1023`, on a target that numbers its calls), could be
  someone's call: the checks send them as reads only.

On an **isolated** target (organisations the suite made through the fixtures API, on the bundled
mock or a target the user declares empty of anyone else's calls, `--isolated-target`) every id is
the suite's to try. An id a target answered for two creates is **reused** (ID-NEVER-REUSED): it is
never cancelled or deleted, on any target, clean-up included.

Against a target that is not on loopback, destructive requests need `--allow-destructive`; the
clean-up of the suite's own calls is exempt (it reads each call back first).
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from typing import Any
from urllib.parse import unquote

from conformance.errors import NotExercised, UnsafeRequest

__all__ = ["Guard", "IdAlphabet", "destructive_target", "lenient_path", "segment_id"]

_REST = re.compile(r"^/v1/calls/([^/?#]*)(/cancel)?/?(?:[?#].*)?$")
_HOOK = re.compile(r"^/v1/hooks/[^/?#]*/?$")
DESTRUCTIVE_ACTIONS = ("call.cancel", "call.delete")
NOT_ALLOWED = "cancel and delete on a target that is not on loopback need --allow-destructive"
REUSED = "the target answered this id for two creates (ID-NEVER-REUSED): the suite never cancels or deletes it"


def segment_id(segment: str) -> str:
    """The call id a raw (percent-encoded) path segment names, as the server decodes it."""
    return unquote(segment, errors="surrogateescape")


def lenient_path(path: str) -> str:
    """`path` as a lenient router may read it: no query, one slash for many, no `.` segments, no
    `;parameters`, the case of the route's words as the contract spells them (`/V1/CALLS/x`)."""
    segments = [s.split(";", 1)[0] for s in re.split(r"[?#]", path, maxsplit=1)[0].split("/") if s not in ("", ".")]
    words = {"v1", "calls", "cancel", "hooks"}
    return "/" + "/".join(s.lower() if s.lower() in words and n != 2 else s for n, s in enumerate(segments))


def destructive_target(method: str, path: str, body: bytes | None) -> str | None:
    """The call id a cancel or delete names (REST path, or the webhook's `data.call_id`), else None.
    A path is read as the most lenient router would (`lenient_path`): whatever spelling the suite
    sends, a cancel or delete of a call is recognised as one."""
    path = lenient_path(path)
    rest = _REST.match(path)
    if rest is not None and ((method == "DELETE" and not rest.group(2)) or (method == "POST" and rest.group(2))):
        return segment_id(rest.group(1))
    if method == "POST" and _HOOK.match(path) and body:
        try:
            data: Any = json.loads(body)
        except ValueError:
            return None
        if isinstance(data, dict) and data.get("action") in DESTRUCTIVE_ACTIONS and isinstance(data.get("data"), dict):
            call_id = data["data"].get("call_id")
            return call_id if isinstance(call_id, str) else None
    return None


def _char_class(char: str) -> str:
    """Digits, lower-case and upper-case ASCII letters count as whole classes (a target that numbers
    its calls has all ten digits, even before the suite has seen them); anything else is itself."""
    if char.isascii() and char.isalnum():
        return "digit" if char.isdigit() else ("lower" if char.islower() else "upper")
    return unicodedata.name(char, f"U+{ord(char):04X}")


class IdAlphabet:
    """The character classes of the ids a target has answered: an id outside them is no one's."""

    def __init__(self) -> None:
        self._classes: set[str] = set()

    def learn(self, call_id: str) -> None:
        self._classes.update(_char_class(c) for c in call_id)

    def outside(self, call_id: str) -> bool:
        """True when `call_id` holds a character of a class no id of the target holds (never before
        the first id is seen: nothing is known of the alphabet then)."""
        return bool(self._classes) and any(_char_class(c) not in self._classes for c in call_id)


class Guard:
    """The ids the suite may cancel or delete, and whether destructive requests are allowed here."""

    def __init__(self, *, destructive_allowed: bool, isolated: bool = False) -> None:
        self.destructive_allowed = destructive_allowed
        self.isolated = isolated
        self.alphabet = IdAlphabet()
        self._owned: set[str] = set()
        self._crafted: set[str] = set()
        self._reused: set[str] = set()
        self._lock = threading.Lock()

    def own(self, call_id: str) -> None:
        """A call of the suite's: created by it in this run (or lent by the pool)."""
        with self._lock:
            self._owned.add(call_id)
            self.alphabet.learn(call_id)

    def craft(self, call_id: str) -> None:
        """An id holding at least 64 random bits the suite drew: no one else's call."""
        with self._lock:
            self._crafted.add(call_id)

    def reuse(self, call_id: str) -> None:
        """An id answered for two creates, or naming a call the suite did not make: hands off."""
        with self._lock:
            self._reused.add(call_id)

    def reused(self, call_id: str) -> bool:
        return call_id in self._reused

    def owned(self, call_id: str) -> bool:
        return call_id in self._owned and call_id not in self._reused

    def vouched(self, call_id: str) -> bool:
        """Owned or crafted: safe to cancel or delete on any target (what the fuzzer's ids are held to)."""
        return self.owned(call_id) or call_id in self._crafted

    def may_destroy(self, call_id: str) -> bool:
        """Whether a cancel or delete may name `call_id` (decoded) on this target."""
        if call_id in self._reused:
            return False
        return self.isolated or call_id in self._owned or call_id in self._crafted or self.alphabet.outside(call_id)

    def check(self, method: str, path: str, body: bytes | None, *, cleanup: bool = False) -> None:
        call_id = destructive_target(method, path, body)
        if call_id is None:
            return
        if call_id in self._reused:
            raise NotExercised(REUSED)
        if not self.may_destroy(call_id):
            raise UnsafeRequest(
                f"refused to send {method} {path[:120]}: {call_id[:60]!r} might be a call the suite did not"
                " create (a bug of the suite: please report it)"
            )
        if not (self.destructive_allowed or cleanup):
            raise NotExercised(NOT_ALLOWED)
