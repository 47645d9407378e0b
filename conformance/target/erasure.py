"""The one erasure search (DEL-ERASURE, contract section 5): which PII of a deleted call an answer
still holds. Every layer judges the rule with it: the response-wide rules, the targeted property and
the lifecycle.

An answer is read as `searchable` makes it: its body as it came, and again with its JSON escapes
undone (`\\u00e9`, surrogate pairs such as `\\ud83d\\ude00` for an emoji, `\\/`), and its header
values; lower-cased, so that a value shown in another case is found too (the search ignores case).

Other calls may share a deleted call's contact details and keep them (contract 1.1, section 5). So
a value of a deleted call is not held against an answer about another call the suite knows to
hold the same value (the id the request names, or the call a create made), nor against an answer
that only echoes what its own request sent; an answer about the deleted id itself may hold none.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from conformance.contract.model import pii_strings
from conformance.http.client import Exchange
from conformance.target.calls import created_id
from conformance.target.needles import Needles
from conformance.target.safety import segment_id

__all__ = ["Erasure", "found", "searchable"]

_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[\"\\/bfnrt])")
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
UNESCAPES = 3  # a JSON text inside a JSON string is escaped twice: undone up to this many times
_CALL_PATH = re.compile(r"/v1/calls/([^/?#]+)")


def _unescape(text: str) -> str:
    """`text` with its JSON escapes undone once; a surrogate pair becomes its one character."""
    plain = _ESCAPE.sub(lambda m: chr(int(m[1][1:], 16)) if m[1][0] == "u" else _SIMPLE[m[1]], text)
    return plain.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")


@lru_cache(maxsize=64)
def searchable(body: bytes) -> str:
    """`body` as the erasure search reads it: lower-cased, as it came and with its JSON escapes
    undone. Cached: every response is searched for every deleted call's PII."""
    text = body.decode("utf-8", "replace")
    forms = [text]
    for _ in range(UNESCAPES):
        if "\\" not in forms[-1]:
            break
        forms.append(_unescape(forms[-1]))
    return "\n".join(forms).lower()


def _answer_text(exchange: Exchange) -> str:
    headers = "\n".join(exchange.response_headers.values()).lower()
    return searchable(exchange.response_body) + "\n" + headers


def found(values: Iterable[str], body: bytes) -> list[str]:
    """The values `body` holds, in any case, as they came or behind JSON escapes (sorted)."""
    text = searchable(body)
    return sorted(value for value in values if value.lower() in text)


def about(exchange: Exchange) -> set[str]:
    """The calls a request is about: the id its REST path names, the webhook's `data.call_id`, and the
    call a create made."""
    named = set()
    path = _CALL_PATH.search(urlsplit(exchange.url).path)
    if path is not None:
        named.add(segment_id(path[1]))
    sent = exchange.sent_json()
    data = sent.get("data") if isinstance(sent, dict) else None
    if isinstance(data, dict) and isinstance(data.get("call_id"), str):
        named.add(data["call_id"])
    made = created_id(exchange)
    return named | ({made} if made else set())


class Erasure:
    """The PII of every call deleted so far, and the search of an answer for it.

    `pii_of` is what the suite seeded each call with (call id -> PII), deleted or live: it tells a
    deleted call's values, and which live calls hold them too."""

    def __init__(self, pii_of: Mapping[str, Mapping[str, Any]]) -> None:
        self._pii_of = pii_of
        self._gone: dict[str, frozenset[str]] = {}  # deleted call -> its PII strings
        self._needles = Needles()  # every deleted call's strings, lower-cased
        self._owners: dict[str, set[str]] = {}  # a lower-cased string -> the deleted calls that held it
        self._erased_at: dict[str, float] = {}  # deleted call -> when its delete's answer came (monotonic)
        self._lock = threading.Lock()  # a race's threads erase and search at once

    def __bool__(self) -> bool:
        return bool(self._gone)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._gone

    def strings(self, call_id: str) -> frozenset[str]:
        """The PII strings the call was seeded with (none for a call the suite did not seed)."""
        pii = self._pii_of.get(call_id)
        return pii_strings(dict(pii)) if pii is not None else frozenset()

    def erase(self, call_id: str, strings: Collection[str] | None = None, *, at: float = 0.0) -> None:
        """From now on no answer may hold `strings` (by default the PII the call was seeded with).
        `at`: when the delete's answer came; a request sent before it raced the delete, and its
        answer may rightly show the call (contract 5, 1.1: "afterwards" is from the 200 on)."""
        values = frozenset(strings if strings is not None else self.strings(call_id))
        with self._lock:
            self._erase(call_id, values, at)

    def _erase(self, call_id: str, values: frozenset[str], at: float) -> None:
        self._erased_at.setdefault(call_id, at)
        self._gone[call_id] = self._gone.get(call_id, frozenset()) | values
        for value in values:
            self._needles.add(value.lower())
            self._owners.setdefault(value.lower(), set()).add(call_id)

    def leaks(self, exchange: Exchange, calls: Iterable[str] | None = None) -> dict[str, list[str]]:
        """Deleted call -> the values of it that the answer holds (sorted), for each call that leaks.

        `calls`: only these deleted calls, whether or not `erase` was told of them yet (the
        lifecycle's model); by default every call erased so far."""
        text = _answer_text(exchange)
        with self._lock:
            return self._leaks(exchange, text, calls)

    def _leaks(self, exchange: Exchange, text: str, calls: Iterable[str] | None) -> dict[str, list[str]]:
        if calls is None:
            hits = self._needles.found_in(text.encode("utf-8", "surrogatepass"))
            wanted = {call: self._gone[call] for value in hits for call in self._owners[value]}
        else:
            wanted = {call: self._gone.get(call) or self.strings(call) for call in calls}
        raced = {call for call in wanted if exchange.started and exchange.started < self._erased_at.get(call, 0.0)}
        held = {call: [v for v in values if v.lower() in text] for call, values in wanted.items() if call not in raced}
        held = {call: values for call, values in held.items() if values}
        if not held:
            return {}
        may_hold = self._may_hold(exchange, gone=self._gone.keys() | wanted.keys())
        leaked = {call: sorted(v for v in values if not may_hold(call, v)) for call, values in held.items()}
        return {call: values for call, values in leaked.items() if values}

    def _may_hold(self, exchange: Exchange, gone: Collection[str]) -> Callable[[str, str], bool]:
        """Whether the answer may hold `value` of the deleted `call`: not if it is about that call;
        else if a live call it is about holds the value too, or its own request sent it."""
        named = about(exchange)
        held = {value.lower() for call in named - set(gone) for value in self.strings(call)}
        sent = searchable(exchange.body or b"")

        def may_hold(call: str, value: str) -> bool:
            return call not in named and (value.lower() in held or value.lower() in sent)

        return may_hold
