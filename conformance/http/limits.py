"""What one answer of the target may cost the suite: at most `MAX_ANSWER_BYTES`, within `--timeout`.

Both HTTP stacks of the run keep the same two limits:

- **Size.** An answer is read as a stream and given up past `MAX_ANSWER_BYTES`, counted after
  decompression: a gzip bomb is inflated piece by piece and stops at the cap too. The request then
  has no answer (`AnswerTooLarge`), which every check reports as a failure with its request.
- **Time.** `--timeout` is the deadline of the whole exchange: connecting, sending, the status
  line and headers, and the body, not one read. The suite's client (httpx) gives each socket
  operation only what is left of the deadline (`_Backend`); schemathesis' requests (`requests`)
  are cut by a watchdog that shuts the connection's socket down when the deadline passes
  (`conformance.http.capped_session`).

Redirects are never followed by either: a 3xx is the answer under test.
"""

from __future__ import annotations

import math
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx
import requests

__all__ = ["CHUNK", "MAX_ANSWER_BYTES", "AnswerTooLarge", "http_client", "is_over_cap", "read_answer", "read_capped"]

MAX_ANSWER_BYTES = 4 * 1024 * 1024  # the contract's largest answer is a few KiB: a thousand times that
CHUNK = 64 * 1024  # bytes inflated at a time


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


ACCEPT_ENCODING = "gzip, deflate"  # what `decoded` undoes


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


def http_client(timeout: float, verify: ssl.SSLContext | bool = True) -> httpx.Client:
    """An httpx client that follows no redirect and keeps every exchange within its deadline (`read_answer`).

    It asks only for the codings `decoded` undoes: httpx would add `br` and `zstd` wherever their
    packages happen to be installed, and a target that took it up would look as if it sent no JSON.
    `verify`: httpx's, or an SSL context made before (`httpx.create_ssl_context`: 40 ms each).
    Its pool keeps httpx's defaults: with fewer idle connections kept (4), httpcore closed a
    connection it had just handed to a request of a race, about once in 25 races of 50 (`ReadError`)."""
    headers = {"Accept-Encoding": ACCEPT_ENCODING}
    http = httpx.Client(timeout=timeout, follow_redirects=False, headers=headers, verify=verify)
    for transport in [http._transport, *http._mounts.values()]:
        if not isinstance(transport, httpx.HTTPTransport):
            continue  # None (a NO_PROXY host), or an in-process transport: no network to bound
        pool: Any = getattr(transport, "_pool", None)
        # httpx takes no network backend; its pool does. An httpx without one fails the tests loudly.
        assert hasattr(pool, "_network_backend"), "httpx's transport changed"
        pool._network_backend = _Backend()
    return http


RETIRED_POOLS = 8  # kept open for the requests still under way on them (`Pools.renew`)


class Pools:
    """A client's connections: a pool for its requests, one for its races' requests, and those retired.

    A race's requests have a pool of their own: httpcore looks over its idle connections, each
    against all the others, for every request it sends, and the connections a race opened (as many
    as it is wide) would stay idle in the pool of every later request (3 % of the default run's CPU,
    profiled, went to that). `renew` starts both afresh: requests under way end on the old ones,
    closed with the rest.
    """

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._tls = httpx.create_ssl_context()  # made once (40 ms): each new pool takes it
        self._single = http_client(timeout, self._tls)
        self._racing: httpx.Client | None = None
        self._retired: list[httpx.Client] = []
        self._lock = threading.Lock()

    def pick(self, *, racing: bool) -> httpx.Client:
        if not racing:
            return self._single
        with self._lock:
            if self._racing is None:
                self._racing = http_client(self._timeout, self._tls)
            return self._racing

    def renew(self) -> None:
        with self._lock:
            self._retired += [self._single, *filter(None, [self._racing])]
            self._single, self._racing = http_client(self._timeout, self._tls), None
            while len(self._retired) > RETIRED_POOLS:  # a target that always answers so: not a socket each
                self._retired.pop(0).close()

    def close(self) -> None:
        with self._lock:
            for http in [*self._retired, self._single, *filter(None, [self._racing])]:
                http.close()


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
