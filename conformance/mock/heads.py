"""What the mock's protocol reads in a request head: its size, its framing, the start of a first line."""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterable

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

__all__ = [
    "LINE_START",
    "UNREAD_BYTES",
    "HeadTooLarge",
    "declared_over",
    "declares_body",
    "invalid",
    "size",
    "still_a_first_line",
    "too_large",
]

# The start of a request line, as a client writes one: a method, a space, a target, a space, then
# part of `HTTP/1.1`. A new connection that has sent only that much (up to `UNREAD_BYTES`) is held
# unparsed and costs a few µs, not uvicorn's set-up; anything else is parsed at once, as it comes.
LINE_START = re.compile(
    rb"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}"  # a method
    rb"(?: [\x21-\x7e]*(?: H(?:T(?:T(?:P(?:/[0-9.]{0,3})?)?)?)?)?)?"  # then a target, then part of a version
)
UNREAD_BYTES = 256


def still_a_first_line(unread: bytes | bytearray) -> bool:
    """All a new connection has sent is the start of a request line: nothing to parse yet."""
    return len(unread) <= UNREAD_BYTES and LINE_START.fullmatch(unread) is not None


class HeadTooLarge(Exception):
    """Raised from llhttp's callback for a head that arrived whole but too large."""


def size(target: bytes, headers: Collection[tuple[bytes, bytes]]) -> int:
    """The size of a parsed request head: its target and headers, and their separators (at least)."""
    return 16 + len(target) + len(b"".join(itertools.chain.from_iterable(headers))) + 4 * len(headers)


def invalid(reason: object) -> str:
    return f"The request is not valid HTTP/1.1 ({reason})."


def too_large(max_head_bytes: int) -> str:
    return f"The request head is larger than {max_head_bytes} bytes."


def declares_body(cycle: RequestResponseCycle) -> bool:
    return any(
        name == b"transfer-encoding" or (name == b"content-length" and value != b"0")
        for name, value in cycle.scope["headers"]
    )


def declared_over(headers: Iterable[tuple[bytes, bytes]], limit: int) -> bool:
    """A `Content-Length` over `limit` among a request's `headers`."""
    for name, value in headers:
        if name == b"content-length":
            return value.isdigit() and int(value) > limit
    return False
