"""The mock's HTTP/1.1 protocol for uvicorn: httptools for speed, h11 where llhttp is stricter.

httptools (llhttp, in C) parses a request several times faster than h11, uvicorn's pure-Python
parser, which costs the mock more than all its own work. But llhttp refuses some requests that
HTTP allows and h11 takes: a method outside its fixed table (`FOO /v1/calls/x`, which must get the
mock's 405) and a request-target without its leading `/`. When llhttp refuses the first request
of a data chunk that starts at a message boundary, with no request in flight, the connection is
handed to h11 with that chunk, byte for byte, and h11 answers it (and everything after it on
that connection) exactly as uvicorn did before httptools. Otherwise (a pipelined request) the
refusal stands: uvicorn's plain-text 400.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HttpProtocol"]


class HttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_message = False  # llhttp has begun a message and not finished it
        self._chunk: bytes | None = None  # the chunk being parsed, if it starts at a message boundary

    def on_message_begin(self) -> None:
        self._in_message = True
        super().on_message_begin()

    def on_message_complete(self) -> None:
        self._in_message = False
        self._chunk = None  # a message ended in this chunk: handing it to h11 would replay that one
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        idle = not self._in_message and not self.pipeline and (self.cycle is None or self.cycle.response_complete)
        self._chunk = data if idle else None
        super().data_received(data)
        self._chunk = None

    def send_400_response(self, msg: str) -> None:
        if self._chunk is None:
            super().send_400_response(msg)
            return
        chunk, self._chunk = self._chunk, None
        self.connections.discard(self)
        h11 = H11Protocol(config=self.config, server_state=self.server_state, app_state=self.app_state)
        h11.connection_made(self.transport)
        self.transport.set_protocol(h11)
        h11.data_received(chunk)
