"""The mock in a process of its own, for the suite's embedded run: the suite and the mock each get a
core, where a mock in the suite's own process would share its interpreter (one core at a time).

`MockProcess(config).start()` binds a free loopback port here, so the suite may connect at once (the
connections wait in the listening socket's queue while the child imports), and hands the socket to
`python -m conformance.mock.child`. The config goes over the child's stdin, pickled (not on its
command line, where `ps` would show the fixtures token); the child then keeps reading its stdin, and
its end (this process gone, however it ended) stops it: no mock outlives its run.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from types import TracebackType

from conformance.mock.config import MockConfig
from conformance.mock.server import bind

__all__ = ["MockProcess"]


class MockProcess:
    """`with MockProcess(config) as mock:` serves a fresh mock at `mock.url` from a child process."""

    def __init__(self, config: MockConfig, host: str = "127.0.0.1") -> None:
        self.config = config
        self._socket = bind(host, 0)
        self.host, self.port = self._socket.getsockname()[:2]
        self._child: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> MockProcess:
        fd = self._socket.fileno()
        command = [sys.executable, "-m", "conformance.mock.child", str(fd)]
        # A session of its own: a Ctrl-C at the terminal interrupts the run, which still needs its mock
        # to clean up and report; the run stops the mock after (or its end does).
        self._child = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(fd,), start_new_session=True
        )
        assert self._child.stdin is not None
        pickle.dump(self.config, self._child.stdin)
        self._child.stdin.flush()  # kept open: its end stops the child
        self._socket.close()  # the child serves it
        return self

    def stop(self) -> None:
        if self._child is None:
            return
        child, self._child = self._child, None
        child.terminate()  # SIGTERM: the mock stops within 2 s (docs/mock.md, "Bounds")
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdin is not None:
            child.stdin.close()

    def __enter__(self) -> MockProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _serve(fd: int) -> None:
    from conformance.mock.app import create_app
    from conformance.mock.server import settle_gc, uvicorn_server
    from conformance.mock.store import Store

    config = pickle.load(sys.stdin.buffer)
    sock = socket.socket(fileno=fd)

    def watch_parent() -> None:
        sys.stdin.buffer.read()  # returns when the parent's end closes
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch_parent, daemon=True).start()
    app = create_app(config, Store())
    settle_gc(app)
    uvicorn_server(app, config).run(sockets=[sock])


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
