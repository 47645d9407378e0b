"""The mock's HTTP/1.1 protocol for uvicorn: httptools (llhttp) with the mock's own bounds.

httptools parses a request several times faster than h11, uvicorn's pure-Python parser. On top of
uvicorn's `HttpToolsProtocol` this protocol makes four promises:

- **A request reaches the application once, and only whole.** It is dispatched when llhttp has
  parsed all of it, body included (or, for a declared `Content-Length` over the body limit, at
  once: the application answers 413 without reading it). A request llhttp refuses (a malformed
  chunk, `Content-Length` and `Transfer-Encoding` together, ...) never reaches the application:
  the answer is a 400 in the error envelope, after the answers of the requests before it on the
  connection, and the connection closes.
- **What llhttp refuses but HTTP allows** in a request line (a method outside llhttp's table, such
  as `FOO`, which must get the mock's 405; a request-target without its leading `/`) is parsed by
  h11 instead, when it is the first request of a data chunk with nothing in flight: one request,
  body ignored, both framings refused, answered by the application, then the connection closes.
- **A new connection is cheap until its first line is whole.** While all it has sent is the start
  of a request line (`heads.still_a_first_line`), it is held unparsed and uvicorn's own
  set-up (a parser, loggers, addresses: most of a connection's cost) waits (`_set_up`): a flood of
  connections that each send half a line costs a few µs each, so the mock accepts them about as
  fast as they come and the listen queue seldom fills (a newcomer behind a full one has its SYN
  dropped and retries a second later). Anything else is parsed as it comes.
- **Bounded per connection and in number** (`Limits`): a request head over `max_head_bytes` gets
  431; a connection that has no request in flight (or whose client does not read its answers)
  closes `request_timeout` seconds after it opened or after its last answer (an idle one after an
  answer, uvicorn's keep-alive timeout after it, when that is shorter); beyond
  `max_connections` the connection that has waited longest for a request is closed to make room
  (or, if every one has a request in flight, the new one gets 429 and is closed). A client that
  goes away mid-body leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import urllib.parse
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from conformance.mock import heads
from conformance.mock.errors import Code, error_body
from conformance.mock.one_write import OneWriteCycle

__all__ = ["HttpProtocol", "Limits", "protocol_class"]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Limits:
    """The bounds of one server's connections (README, "Bounds")."""

    max_body_bytes: int = 64 * 1024
    max_head_bytes: int = 16 * 1024
    request_timeout: float = 10.0
    max_connections: int = 1024


class HttpProtocol(HttpToolsProtocol):
    limits: ClassVar[Limits] = Limits()
    # Connections with no request in flight, longest waiting first. One per class: `protocol_class` makes
    # one class per server (servers that share this base class, as benchmarks' do, share it too).
    waiting: ClassVar[dict[HttpProtocol, None]] = {}

    def __init__(
        self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        # uvicorn's own set-up (its parser, loggers, addresses: most of a connection's cost) waits for
        # the connection's first line (`_set_up`); until then, only what the cap and the deadline use.
        self._uvicorn = (config, server_state, app_state, _loop)
        self._unread: bytearray | None = bytearray()  # received before uvicorn's set-up
        self.loop = _loop or asyncio.get_event_loop()
        self.server_state, self.connections = server_state, server_state.connections
        self.timeout_keep_alive = config.timeout_keep_alive
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._in_message = False  # llhttp has begun a message and not finished it
        self._in_body = False  # ... and has finished its head
        self._head_bytes = 0  # bytes received towards the unfinished head (an upper bound)
        self._chunk: bytes | None = None  # the chunk being parsed, if it starts at a message boundary
        self._deferred: tuple[RequestResponseCycle, Any] | None = None  # parsed head, body still coming
        self._running: RequestResponseCycle | None = None  # the request last handed to the application
        self._refusal: tuple[int, str, str, bytes] | None = None  # sent once the requests before it are answered
        self._head: bytearray | None = None  # a request line llhttp refused, for h11
        self._last = False  # the connection takes no further request
        self._deadline: asyncio.TimerHandle | None = None
        self._since = 0.0  # when the connection last began to wait for a request
        self._kept_alive = False  # answered, and nothing received since: the keep-alive timeout applies

    # --- connections: the cap and the deadline ---------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        full = len(self.connections) >= self.limits.max_connections
        oldest = next(iter(self.waiting), None) if full else None
        if oldest is not None:
            oldest._close()  # it has waited longest for a request: it makes room
        self.transport = transport
        self.connections.add(self)
        if full and oldest is None:
            self._set_up()
            self._refuse(429, Code.RATE_LIMIT_EXCEEDED, "Too many connections; retry later.", b"retry-after: 1\r\n")
        else:
            self._wait(answered=False)

    def _set_up(self) -> None:
        """uvicorn's set-up of the connection, deferred from its opening (`__init__`)."""
        transport = self.transport
        HttpToolsProtocol.__init__(self, *self._uvicorn)
        HttpToolsProtocol.connection_made(self, transport)
        self._unread = None

    def _wait(self, *, answered: bool) -> None:
        """No request in flight: this connection may be evicted, and closes at its deadline.

        One timer per connection, armed once: each answer only moves the deadline, and the timer,
        when it fires early, sleeps again until it (a timer per request, as uvicorn's keep-alive
        timer, costs more than the rest). It never sleeps longer than the keep-alive timeout, so
        that an answer, which may bring the deadline closer, never finds it armed too late.
        """
        self.waiting.pop(self, None)
        self.waiting[self] = None  # last in line
        self._since, self._kept_alive = self.loop.time(), answered
        if self._deadline is None:
            self._arm(self.limits.request_timeout)

    def _arm(self, delay: float) -> None:
        self._deadline = self.loop.call_later(min(delay, self.timeout_keep_alive), self._expire)

    def _expire(self) -> None:
        """Close, unless a request is in flight whose answer is being read (then look again later)."""
        self._deadline = None
        timeout = self.limits.request_timeout
        if self._kept_alive:
            timeout = min(timeout, self.timeout_keep_alive)
        left = self._since + timeout - self.loop.time()
        if self._busy() and not self.flow.write_paused:
            self._arm(self.limits.request_timeout)
        elif left > 0 and not self._busy():
            self._arm(left)
        else:
            self._close()

    def _busy(self) -> bool:
        return self._running is not None and not self._running.response_complete

    def _close(self) -> None:
        self.waiting.pop(self, None)
        if self.transport.get_write_buffer_size():  # its client does not read: close() would wait for it
            if self._running is not None:
                self._running.disconnected = True  # the request in flight writes nothing more
            sock = self.transport.get_extra_info("socket")
            if sock is not None:  # a reset, so that the kernel does not keep sending what it holds either
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()
        elif not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.waiting.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._deferred = None
        if self._unread is not None:  # never set up: nothing of uvicorn's to undo
            self.connections.discard(self)
            return
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """SIGTERM: close now, or once the request in flight is answered (uvicorn cancels it after 1 s)."""
        if self._busy():
            super().shutdown()
        else:
            self._close()

    # --- parsing ---------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._unread is not None and not (data := self._first_line(data)):
            return  # the first line is still coming: nothing to parse yet
        if self._last or self.transport.is_closing():
            return  # the connection is done: whatever follows is not read
        self._kept_alive = False
        if self._head is not None:
            self._head += data
            self._hand_over()
            return
        idle = not self._in_message and not self.pipeline and not self._busy()
        self._chunk = data if idle else None
        if not self._in_body:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserInvalidMethodError, httptools.HttpParserInvalidURLError) as exc:
            if self._chunk is not None:
                self._head = bytearray(self._chunk)
                self._hand_over()
            else:
                self._refuse(400, Code.VALIDATION_ERROR, heads.invalid(exc))
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, heads.HeadTooLarge):
                self._refuse(431, Code.PAYLOAD_TOO_LARGE, heads.too_large(self.limits.max_head_bytes))
            else:
                self._refuse(400, Code.VALIDATION_ERROR, heads.invalid(exc))
            return
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # as uvicorn: no upgrade is served
        finally:
            self._chunk = None
        if not self._in_message:
            self._head_bytes = 0
        elif not self._in_body and self._head_bytes > self.limits.max_head_bytes:
            self._refuse(431, Code.PAYLOAD_TOO_LARGE, heads.too_large(self.limits.max_head_bytes))

    def _first_line(self, data: bytes) -> bytes:
        """What there is to parse on a connection not yet set up: nothing while its first line is
        still coming (`heads.still_a_first_line`), else all it has sent, once it is set up."""
        assert self._unread is not None
        self._unread += data
        if heads.still_a_first_line(self._unread):
            return b""
        data = bytes(self._unread)
        self._set_up()
        return data

    def on_message_begin(self) -> None:
        self._in_message = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if heads.size(self.url, self.headers) > self.limits.max_head_bytes:
            raise heads.HeadTooLarge()  # a head that arrived whole in one chunk; nothing of it is dispatched
        self._in_body, self._head_bytes = True, 0
        super().on_headers_complete()  # makes the request's cycle and starts it (`_start_asgi_task`)
        if self._deferred is not None and self.expect_100_continue and heads.declares_body(self.cycle):
            self.cycle.waiting_for_100_continue = False
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if self._deferred is None or self._deferred[0] is not self.cycle:
            super().on_body(body)
            return
        room = self.limits.max_body_bytes + 1 - len(self.cycle.body)  # one byte over says "too large"
        if room > 0:
            self.cycle.body += body[:room]

    def on_message_complete(self) -> None:
        self._in_message = self._in_body = False
        self._chunk = None  # a message ended in this chunk: handing it to h11 would replay that one
        super().on_message_complete()
        if self._deferred is not None and self._deferred[0] is self.cycle:
            cycle, app = self._deferred
            self._deferred = None
            self._start_asgi_task(cycle, app)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        cycle.__class__ = OneWriteCycle  # uvicorn makes the cycle; ours writes each answer at once
        # A declared body over the limit is not waited for: the application answers 413 without reading it.
        if cycle.more_body and not heads.declared_over(cycle.scope["headers"], self.limits.max_body_bytes):
            self._deferred = (cycle, app)  # started by `on_message_complete`
            return
        self._running = cycle
        self.waiting.pop(self, None)
        super()._start_asgi_task(cycle, app)

    def on_response_complete(self) -> None:
        """uvicorn's, without its keep-alive timer: the connection's deadline keeps that time (`_expire`)."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            self._start_asgi_task(*self.pipeline.pop())  # the next pipelined request
        if self._busy():
            return
        if self._refusal is not None:
            self._answer()
        else:
            self._wait(answered=True)

    # --- refusals --------------------------------------------------------------------------------

    def _refuse(self, status: int, code: str, message: str, extra: bytes = b"") -> None:
        """Answer `status` in the envelope once the requests parsed before are answered; then close.

        The refused request itself never runs: it is not complete, so it is not started, even when
        it waits in the pipeline (`_start_asgi_task` defers it, and the refusal is answered instead).
        """
        self._last, self._deferred = True, None
        self._refusal = (status, code, message, extra)
        if not self.pipeline and not self._busy():
            self._answer()

    def _answer(self) -> None:
        assert self._refusal is not None
        status, code, message, extra = self._refusal
        body = _ENCODER.encode(error_body(code, message)).encode("utf-8")
        head = [STATUS_LINE[status]]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body), extra]
        self.transport.write(b"".join(head) + b"connection: close\r\n\r\n" + body)
        self.waiting.pop(self, None)
        self.transport.close()  # once the answer is out
        if self.transport.get_write_buffer_size():  # not yet in the kernel: give it a second, no more
            self.loop.call_later(1.0, self._close)

    def send_400_response(self, msg: str) -> None:  # uvicorn's plain-text 400: never, the envelope instead
        self._refuse(400, Code.VALIDATION_ERROR, heads.invalid(msg))

    # --- a request line llhttp refused, parsed by h11 --------------------------------------------

    def _hand_over(self) -> None:
        assert self._head is not None
        parser = h11.Connection(h11.SERVER, max_incomplete_event_size=len(self._head) + 1)  # the limit is ours
        parser.receive_data(bytes(self._head))
        event: object
        try:
            event = parser.next_event()
        except h11.RemoteProtocolError as exc:
            event = exc
        if event is h11.NEED_DATA and len(self._head) <= self.limits.max_head_bytes:
            return  # the rest of the head is still coming (within the deadline)
        self._head = None
        if event is h11.NEED_DATA or (
            isinstance(event, h11.Request) and heads.size(event.target, event.headers) > self.limits.max_head_bytes
        ):
            self._refuse(431, Code.PAYLOAD_TOO_LARGE, heads.too_large(self.limits.max_head_bytes))
            return
        if not isinstance(event, h11.Request):
            self._refuse(400, Code.VALIDATION_ERROR, heads.invalid(event))
            return
        headers = [(name.lower(), value) for name, value in event.headers]
        if {b"content-length", b"transfer-encoding"} <= {name for name, _ in headers}:
            self._refuse(
                400, Code.VALIDATION_ERROR, heads.invalid("Transfer-Encoding can't be present with Content-Length")
            )
            return
        self._last = True  # its body, and anything after it, is not read: one answer, then close
        self._start_cycle(event, headers)

    def _start_cycle(self, event: h11.Request, headers: list[tuple[bytes, bytes]]) -> None:
        """Run the app on a request h11 parsed, as uvicorn runs it on one llhttp parsed."""
        raw_path, _, query = event.target.partition(b"?")
        path = urllib.parse.unquote(raw_path.decode("ascii"))
        scope: Any = {
            "type": "http",
            "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
            "http_version": event.http_version.decode("ascii"),
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": event.method.decode("ascii"),
            "root_path": self.root_path,
            "path": self.root_path + path,
            "raw_path": self.root_path.encode("ascii") + raw_path,
            "query_string": query,
            "headers": headers,
            "state": self.app_state.copy(),
        }
        self.cycle = RequestResponseCycle(
            scope=scope,
            transport=self.transport,
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=self.access_log,
            default_headers=self.server_state.default_headers,
            message_event=asyncio.Event(),
            expect_100_continue=False,
            keep_alive=False,
            on_response=self.on_response_complete,
        )
        self.cycle.more_body = False
        self._start_asgi_task(self.cycle, self.app)


def protocol_class(limits: Limits) -> type[HttpProtocol]:
    """`HttpProtocol` with these bounds, and a registry of waiting connections of its own (one per server)."""
    return type("HttpProtocol", (HttpProtocol,), {"limits": limits, "waiting": {}})
