"""An answer's head and body in one write: uvicorn writes a head as soon as the application starts
its answer, and the body after it; holding the head until the first body write halves the system
calls and segments of every answer (`conformance.mock.protocol` uses it)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

__all__ = ["HeldHead", "OneWriteCycle"]


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request-response cycle, whose answer's head leaves with its body, in one write.

    uvicorn writes a head as soon as the application starts its answer and the body after it: two
    system calls and, with TCP_NODELAY, two segments for the client to read, for every answer.
    Holding the head until the first body write (`HeldHead`) halves both. A HEAD request's
    answer has no body write: its head is written as uvicorn does.
    """

    async def send(self, message: Any) -> None:
        if not self.response_started and message["type"] == "http.response.start" and self.scope["method"] != "HEAD":
            self.transport = HeldHead(self.transport)  # type: ignore[assignment]
        await super().send(message)


class HeldHead:
    """A cycle's transport once its answer has begun: the first write (the head) waits for the next.

    Anything else a cycle does with its transport from then on (`close`, `is_closing`) writes the
    held head first, if any, so that nothing is lost or reordered.
    """

    __slots__ = ("head", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.head: bytes | None = None  # None: the head is still to come; b"": written

    def write(self, data: bytes) -> None:
        if self.head is None:
            self.head = data
            return
        if self.head:
            data, self.head = self.head + data, b""
        self.transport.write(data)

    def close(self) -> None:
        if self.head:
            self.transport.write(self.head)
            self.head = b""
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()
