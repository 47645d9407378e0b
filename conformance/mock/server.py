"""Serving the mock with uvicorn: a thread handle for tests and the suite, and the CLI's server."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from conformance.mock.accesslog import StreamAccessLog
from conformance.mock.app import MockApp, create_app
from conformance.mock.config import MockConfig
from conformance.mock.demo import banner, seed_demo
from conformance.mock.protocol import HttpProtocol, Limits, protocol_class
from conformance.mock.store import Store

__all__ = ["BACKLOG", "UVICORN_OPTIONS", "MockServer", "bind", "limits_of", "serve", "settle_gc", "uvicorn_server"]

# Connections the kernel holds for the mock to accept (nginx's default is 511). When a flood of new
# connections outpaces the mock, a newcomer waits behind every one queued before it (a longer queue,
# a longer wait: 1,024 and 2,048 measured worse), and while the queue is full its SYN is dropped and
# it retries a second later (a shorter queue is full more often). See docs/performance.md.
BACKLOG = 512


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one. OSError if the port is taken.

    IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that name it, and without it
    every keep-alive request waits ~40 ms for a delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(BACKLOG)  # connections queue from now on, before uvicorn's loop runs (and listens again)
    except OSError:
        sock.close()
        raise
    return sock


# uvicorn's own access log would print webhook tokens; ours redacts them. The protocol is httptools
# with the mock's bounds (see `protocol`; each server gets its own class, `protocol_class`), and
# uvloop is uvicorn's choice under "auto" where it is installed (everywhere but Windows). No proxy
# headers: the mock sees its clients as they connect (the rate limit keys anonymous requests on
# them). On SIGTERM, a request still running after a second is cancelled (only `--latency` holds
# one that long).
UVICORN_OPTIONS: dict[str, Any] = {
    "log_level": "warning",
    "access_log": False,
    "lifespan": "off",
    "backlog": BACKLOG,
    "http": HttpProtocol,
    "loop": "auto",
    "proxy_headers": False,
    "timeout_graceful_shutdown": 1,
}


def limits_of(config: MockConfig) -> Limits:
    return Limits(
        max_body_bytes=config.max_body_bytes,
        max_head_bytes=config.max_head_bytes,
        request_timeout=config.request_timeout_seconds,
        max_connections=config.max_connections,
    )


def uvicorn_server(app: ASGIApp, config: MockConfig) -> uvicorn.Server:
    options = UVICORN_OPTIONS | {"http": protocol_class(limits_of(config))}
    return uvicorn.Server(uvicorn.Config(app, **options))


class MockServer:
    """A real uvicorn serving a fresh mock on loopback, in a background thread.

    `with MockServer(config) as server:` starts it on a free port; `server.url` is its base URL.
    """

    def __init__(
        self,
        config: MockConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        wrap: Callable[[ASGIApp], ASGIApp] | None = None,
    ) -> None:
        """`wrap` puts an ASGI middleware around the app (a benchmark counts requests with it)."""
        self.config = config or MockConfig()
        self.store = Store()
        self.app = create_app(self.config, self.store)
        self._socket = bind(host, port)
        self.host, self.port = self._socket.getsockname()[:2]
        self._server = uvicorn_server(wrap(self.app) if wrap else self.app, self.config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="mock-server", daemon=True
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> MockServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the mock server did not start on {self.url}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(config: MockConfig, sock: socket.socket, *, demo: bool, generated_token: bool) -> None:
    """Run the mock in the foreground until interrupted (the `mock` subcommand)."""
    store = Store()
    app = create_app(config, store)
    host, port = sock.getsockname()[:2]
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    print(banner(url, seed_demo(store) if demo else None, config.fixtures_token, generated_token), flush=True)
    if config.faults:
        print(f"faults on (deliberate contract violations): {', '.join(sorted(config.faults))}", flush=True)
    app.access_log = StreamAccessLog(sys.stderr)
    settle_gc(app)
    uvicorn_server(app, config).run(sockets=[sock])


def settle_gc(app: MockApp) -> None:
    """The garbage collector of a process that serves the mock alone (the `mock` command; never a host's).

    No collection runs while a public route's handler runs (`MockApp.owns_gc`): the JSON body it
    parses is a tree, which reference counting frees when the handler returns. Otherwise a
    collection in the middle of decoding a wide body (60 KB of `[[],[],...]` is 15,000 lists)
    finds it alive and moves it towards the oldest generation, whose full collections then ran
    every few such requests, each walking everything the process holds: 285 full collections
    (10 s) in 1,800 creates, and a normal client waited up to 680 ms. The thresholds stay
    CPython's, so garbage that does form (a connection gone mid-request) is collected as soon as
    before (raising the youngest generation's to 50,000 let 3,000 such connections hold 13 MB),
    and nothing is frozen (`gc.freeze` made full collections more frequent, not cheaper, once
    calls were stored: 40% more CPU a request under load).
    """
    app.owns_gc = True
