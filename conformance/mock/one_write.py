"""An answer's head and body in one write, built at once: the mock's answers, through uvicorn's cycle.

uvicorn writes a head as soon as the application starts its answer and the body after it: two
system calls and, with TCP_NODELAY, two segments for the client to read, for every answer; and
it builds the head through a general path (every header matched against two patterns, each name
lowered and compared, a message dict per step) that costs more than many a request's own work.
`conformance.mock.protocol` uses this cycle instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE, STATUS_LINE, RequestResponseCycle

__all__ = ["OneWriteCycle"]


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request-response cycle, whose answer's head leaves with its body, in one write.

    The start of an answer is held until its body comes. An answer whole in one body message, with
    one `Content-Length` that matches it (each of the mock's), is then written at once, with the
    same bytes uvicorn would write; anything else (HEAD, whose answer has no body write, a body in
    parts, framing headers of the application's own, a full write buffer, a gone client) is handed
    to uvicorn's `send`, the held start first. An application that fails after its start, before
    its body, has not started its answer as far as uvicorn can tell: uvicorn answers 500.
    """

    held: Any = None  # the answer's start, until its body (uvicorn makes the cycle: no __init__ of ours)
    # uvicorn's default headers (the server's, shared by its cycles) and their lines (`_default_lines`)
    defaults: ClassVar[tuple[object, bytes | None]] = (None, None)

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.response_started and self.scope["method"] != "HEAD":
            self.held = message
            return
        held, self.held = self.held, None
        if held is None:
            await super().send(message)
        elif not self._write_whole(held, message):
            await super().send(held)
            await super().send(message)

    def _write_whole(self, start: Any, message: Any) -> bool:
        """Write the answer `start` begins and `message` ends, as uvicorn would; False: leave it to uvicorn."""
        plain = message["type"] == "http.response.body" and not message.get("more_body", False)
        if not plain or self.disconnected or self.flow.write_paused or self.access_log:
            return False
        body = message.get("body", b"")
        defaults, lines = self._default_lines(), _lines(start.get("headers", ()), b"%d" % len(body))
        if defaults is None or lines is None:
            return False
        close = b"" if self.keep_alive else b"connection: close\r\n"
        self.transport.write(b"".join((STATUS_LINE[start["status"]], defaults, lines, close, b"\r\n", body)))
        self.response_started = self.response_complete = True
        self.waiting_for_100_continue = False
        self.message_event.set()
        if not self.keep_alive:
            self.transport.close()
        self.on_response()
        return True

    def _default_lines(self) -> bytes | None:
        """uvicorn's default headers' lines, made once for each list of them (a new one each second, its `date`)."""
        made_for, lines = OneWriteCycle.defaults
        if made_for is not self.default_headers:
            lines = _lines(self.default_headers, None)
            OneWriteCycle.defaults = (self.default_headers, lines)
        return lines


_FRAMING = (b"content-length", b"transfer-encoding", b"connection")


def _lines(headers: Iterable[tuple[bytes, bytes]], length: bytes | None) -> bytes | None:
    """Header lines as uvicorn writes them; None if uvicorn would refuse one, or if they frame the
    answer otherwise than by one `content-length: length` (by none, if `length` is None)."""
    lines: list[bytes] = []
    framed = length is None
    for name, value in headers:
        lowered = name.lower()
        if lowered in _FRAMING:
            if framed or lowered != b"content-length" or value != length:
                return None
            framed = True
        if HEADER_RE.search(name) or HEADER_VALUE_RE.search(value):
            return None
        lines += (lowered, b": ", value, b"\r\n")
    return b"".join(lines) if framed else None
