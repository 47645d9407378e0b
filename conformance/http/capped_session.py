"""The `requests` session schemathesis sends through, with the limits of `conformance.http.limits`:
an answer read as a stream and given up past `MAX_ANSWER_BYTES` (decompressed), `--timeout` the
deadline of the whole exchange (a watchdog shuts the connection's socket down when it passes, which
wakes a blocked read), and no redirect followed.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from urllib3.connection import HTTPConnection, HTTPSConnection

from conformance.http.limits import CHUNK, AnswerTooLarge, read_capped

__all__ = ["ProxyLookup", "capped_session", "own_sessions_capped"]

DEFAULT_DEADLINE = 10.0  # seconds, for a `requests` call given no timeout (schemathesis always gives one)


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


class ProxyLookup:
    """The proxies the environment gives each origin, looked up once. `requests` looks them up for
    every request (`get_environ_proxies` walks `os.environ` twice), a tenth of a millisecond each;
    the suite sends to one target, whose proxies, if the user set any, do not change within a run."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str | None], dict[str, str]] = {}

    def __call__(self, url: str, no_proxy: str | None) -> dict[str, str]:
        parts = urlsplit(url)
        key = (f"{parts.scheme}://{parts.netloc}/", no_proxy)  # all that decides it: scheme, host, port
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = requests.utils.get_environ_proxies(key[0], no_proxy=no_proxy)
        return found


def capped_session(proxies: ProxyLookup | None = None) -> requests.Session:
    """A `requests` session for schemathesis: the cap and the deadline, no redirect, no cookie kept;
    the environment's proxies from `proxies` (one lookup for many sessions) when given."""
    from schemathesis.transport.requests import ManagedCookiesSession

    class Session(ManagedCookiesSession):
        def get_redirect_target(self, resp: requests.Response) -> str | None:
            return None  # a 3xx is the answer under test

        def merge_environment_settings(self, url: str, proxies_: Any, stream: Any, verify: Any, cert: Any) -> Any:
            if proxies is None or not self.trust_env:
                return super().merge_environment_settings(url, proxies_, stream, verify, cert)
            proxies_ = {} if proxies_ is None else proxies_
            for name, value in proxies(url, proxies_.get("no_proxy")).items():
                proxies_.setdefault(name, value)
            if verify is True or verify is None:  # as `requests` does, with the proxies looked up already
                verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
            return {
                "proxies": merge_setting(proxies_, self.proxies),
                "stream": merge_setting(stream, self.stream),
                "verify": merge_setting(verify, self.verify),
                "cert": merge_setting(cert, self.cert),
            }

    session = Session()
    session.headers.clear()  # schemathesis sends its own, as with the session it would make itself
    adapter = _Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@contextlib.contextmanager
def own_sessions_capped(proxies: ProxyLookup | None = None) -> Iterator[None]:
    """While it lasts, the sessions schemathesis makes itself are `capped_session`s. It sends the
    probes of `ignored_auth` without the session it was given (to drop its credentials), through a
    session of its own, which would read any answer whole, keep no deadline of the whole exchange
    and follow redirects. For one thread at a time (the schema layer sends one request at a time)."""
    from schemathesis.transport import requests as transport

    made = transport.SameHostRedirectsSession
    transport.SameHostRedirectsSession = lambda: capped_session(proxies)  # type: ignore[assignment,misc,return-value]
    try:
        yield
    finally:
        transport.SameHostRedirectsSession = made  # type: ignore[misc]
