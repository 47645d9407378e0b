"""What one answer of the target may cost the suite: at most `MAX_ANSWER_BYTES`, within `--timeout`.

Both HTTP stacks of the run keep the same two limits:

- **Size.** An answer is read as a stream and given up past `MAX_ANSWER_BYTES`, counted after
  decompression: a gzip bomb is inflated piece by piece and stops at the cap too. The request then
  has no answer (`AnswerTooLarge`), which every check reports as a failure with its request.
- **Time.** `--timeout` is the deadline of the whole exchange: connecting, sending, the status
  line and headers, and the body, not one read. The suite's client (httpx) gives each socket
  operation only what is left of the deadline (`_Backend`); schemathesis' requests (`requests`)
  are cut by a watchdog that shuts the connection's socket down when the deadline passes.

Redirects are never followed by either: a 3xx is the answer under test.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

__all__ = ["MAX_ANSWER_BYTES", "AnswerTooLarge", "capped_session", "http_client", "is_over_cap", "read_answer"]

MAX_ANSWER_BYTES = 4 * 1024 * 1024  # the contract's largest answer is a few KiB: a thousand times that
CHUNK = 64 * 1024  # bytes inflated at a time
DEFAULT_DEADLINE = 10.0  # seconds, for a `requests` call given no timeout (schemathesis always gives one)


class AnswerTooLarge(requests.exceptions.RequestException):
    """An answer past `MAX_ANSWER_BYTES` (decompressed): no answer the suite will judge."""

    def __init__(self, status: int, *, request: Any = None) -> None:
        super().__init__(f"{OVER_CAP} {MAX_ANSWER_BYTES} bytes (status {status})", request=request)


OVER_CAP = "answer over"


def is_over_cap(error: str | None) -> bool:
    """Whether an exchange's `error` is an answer past the cap (an answer all the same, if not one to judge)."""
    return error is not None and error.startswith(OVER_CAP)


# --- size ----------------------------------------------------------------------------------------


def _inflate(chunks: Iterable[bytes], coding: str) -> Iterator[bytes]:
    """`chunks` decompressed (gzip or deflate), at most `CHUNK` bytes at a time, lazily."""
    wbits = zlib.MAX_WBITS | 16 if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
    inflater, started = zlib.decompressobj(wbits), False
    for chunk in chunks:
        if not started and coding == "deflate":  # raw deflate without the zlib header, as httpx accepts
            started = True
            try:
                zlib.decompressobj(wbits).decompress(chunk[:2])
            except zlib.error:
                inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        data = chunk
        while data and not inflater.eof:
            out = inflater.decompress(data, CHUNK)
            data = inflater.unconsumed_tail
            if out:
                yield out
        while not inflater.eof and (out := inflater.decompress(b"", CHUNK)):  # what is still held inside
            yield out


def decoded(chunks: Iterable[bytes], content_encoding: str) -> Iterator[bytes]:
    """The body as httpx would decode it (gzip, deflate; other codings left alone), but lazily."""
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",")]):
        if coding in ("gzip", "x-gzip", "deflate"):
            chunks = _inflate(chunks, coding)
    yield from chunks


def read_capped(chunks: Iterable[bytes], status: int, *, request: Any = None) -> bytes:
    """The chunks joined; `AnswerTooLarge` as soon as they pass `MAX_ANSWER_BYTES`."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise AnswerTooLarge(status, request=request)
    return bytes(body)


# --- time: httpx ---------------------------------------------------------------------------------


class _Deadline(threading.local):
    at = math.inf  # time.monotonic() when the exchange this thread is in must be over


_DEADLINE = _Deadline()


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    before, _DEADLINE.at = _DEADLINE.at, time.monotonic() + seconds
    try:
        yield
    finally:
        _DEADLINE.at = before


def _left(timeout: float | None, expired: type[Exception]) -> float:
    left = _DEADLINE.at - time.monotonic()
    if left <= 0:
        raise expired("the exchange's deadline (--timeout) passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A socket whose every operation gets at most what is left of the exchange's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> _Stream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _left(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def http_client(timeout: float) -> httpx.Client:
    """An httpx client that follows no redirect and keeps every exchange within its deadline (`read_answer`)."""
    http = httpx.Client(timeout=timeout, follow_redirects=False)
    for transport in [http._transport, *http._mounts.values()]:
        if not isinstance(transport, httpx.HTTPTransport):
            continue  # None (a NO_PROXY host), or an in-process transport: no network to bound
        pool: Any = getattr(transport, "_pool", None)
        # httpx takes no network backend; its pool does. An httpx without one fails the tests loudly.
        assert hasattr(pool, "_network_backend"), "httpx's transport changed"
        pool._network_backend = _Backend()
    return http


def read_answer(http: httpx.Client, request: httpx.Request, timeout: float) -> tuple[httpx.Response, bytes]:
    """Send `request`, read its answer within `timeout` seconds in all and `MAX_ANSWER_BYTES`.

    Raises httpx's errors (`httpx.TimeoutException` once the deadline passes), or `AnswerTooLarge`.
    """
    with _deadline(timeout):
        response = http.send(request, stream=True)
        try:
            if response.is_stream_consumed:  # built in memory (an in-process transport): whole, and decoded
                return response, read_capped(iter([response.content]), response.status_code)
            chunks = decoded(response.iter_raw(), response.headers.get("content-encoding", ""))
            return response, read_capped(chunks, response.status_code)
        except zlib.error as exc:
            raise httpx.DecodingError(f"the answer's content-encoding does not decode ({exc})") from None
        finally:
            response.close()


# --- time: requests (schemathesis) ---------------------------------------------------------------


class _Watchdog:
    """One thread that runs each armed action once its time comes, unless it was disarmed."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, list[Callable[[], None] | None]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, at: float, action: Callable[[], None]) -> list[Callable[[], None] | None]:
        entry: list[Callable[[], None] | None] = [action]
        with self._wake:
            heapq.heappush(self._due, (at, next(self._order), entry))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="husky-deadlines", daemon=True)
                self._thread.start()
            self._wake.notify()
        return entry

    @staticmethod
    def disarm(entry: list[Callable[[], None] | None]) -> None:
        entry[0] = None

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._wake.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, _, entry = heapq.heappop(self._due)
            action = entry[0]
            if action is not None:
                action()


_WATCHDOG = _Watchdog()


class _Cut:
    """One exchange of schemathesis': the socket it uses, shut down when its deadline passes."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.fired = False
        self._lock = threading.Lock()

    def uses(self, sock: socket.socket | None) -> None:
        with self._lock:
            self.sock = sock
        if self.fired:
            self.fire()

    def fire(self) -> None:
        with self._lock:
            self.fired, sock = True, self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked read; close() would not


class _Current(threading.local):
    cut: _Cut | None = None


_CURRENT = _Current()


class _Connection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        if _CURRENT.cut is not None:
            _CURRENT.cut.uses(self.sock)


class _TLSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        if _CURRENT.cut is not None:
            _CURRENT.cut.uses(self.sock)


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class _Adapter(HTTPAdapter):
    """Sends within the deadline (the whole `timeout`) and reads at most `MAX_ANSWER_BYTES`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        total = _total(timeout)
        cut = _CURRENT.cut = _Cut()
        alarm = _WATCHDOG.arm(time.monotonic() + total, cut.fire)
        try:
            response = super().send(request, True, total, verify, cert, proxies)
            try:
                response._content = read_capped(_read1(response.raw), response.status_code, request=request)
                if cut.fired:  # a body that ends with its connection looks whole when cut short
                    raise requests.exceptions.ReadTimeout(f"no answer within {total:g} s", request=request)
            except BaseException:
                response.close()  # unread data: the connection is not reused
                raise
            response._content_consumed = True
            response.raw.release_conn()
            return response
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if cut.fired and not isinstance(exc, AnswerTooLarge):
                raise requests.exceptions.ReadTimeout(f"no answer within {total:g} s", request=request) from None
            raise _as_requests_error(exc, request) from None
        finally:
            _WATCHDOG.disarm(alarm)
            _CURRENT.cut = None


def _total(timeout: Any) -> float:
    """The deadline of a `requests` timeout: a number, or the larger of (connect, read)."""
    if isinstance(timeout, tuple):
        timeout = max((t for t in timeout if t is not None), default=None)
    return float(timeout) if timeout is not None else DEFAULT_DEADLINE


def _as_requests_error(exc: Exception, request: requests.PreparedRequest) -> Exception:
    """What `requests` itself makes of an error while a body streams in (`Response.iter_content`)."""
    if isinstance(exc, requests.RequestException):
        return exc
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return requests.exceptions.ReadTimeout(exc, request=request)
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return requests.exceptions.ContentDecodingError(exc, request=request)
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return requests.exceptions.ChunkedEncodingError(exc, request=request)
    return requests.exceptions.ConnectionError(exc, request=request)


def _read1(raw: urllib3.HTTPResponse) -> Iterator[bytes]:
    # read1: whatever has arrived (read(n) would wait for n bytes); urllib3 inflates it boundedly.
    while chunk := raw.read1(CHUNK, decode_content=True):
        yield chunk


def capped_session() -> requests.Session:
    """A `requests` session for schemathesis: the cap and the deadline, no redirect, no cookie kept."""
    from schemathesis.transport.requests import ManagedCookiesSession

    class Session(ManagedCookiesSession):
        def get_redirect_target(self, resp: requests.Response) -> str | None:
            return None  # a 3xx is the answer under test

    session = Session()
    session.headers.clear()  # schemathesis sends its own, as with the session it would make itself
    adapter = _Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
