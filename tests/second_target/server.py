"""HTTP for the second target: the standard library's `ThreadingHTTPServer`, one thread a connection.

Every answer is JSON with `; charset=utf-8` (some characters escaped, see `encode`),
gzip-compressed when the client accepts gzip, sent with `Transfer-Encoding: chunked` when it is
over 2 KiB, and carries an `X-Request-Id` header (the same id is in every error body). Any method
is routed (none gets the standard library's HTML 501), and the standard library's own errors (a
bad request line, headers too long) are answered with the JSON envelope too.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import socket
import sys
import threading
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .app import App, Request, Response, TargetConfig
from .errors import INTERNAL_ERROR, METHOD_NOT_ALLOWED, NOT_FOUND, PAYLOAD_TOO_LARGE, VALIDATION_ERROR, ApiError

MAX_BODY = 1 << 20
CHUNKED_ABOVE, CHUNK = 2048, 1024  # a long answer streams in chunks, as many servers' do
LOOPBACK = "127.0.0.1"
_CODES = {404: NOT_FOUND, 405: METHOD_NOT_ALLOWED, 413: PAYLOAD_TOO_LARGE}


def accepts_gzip(value: str | None) -> bool:
    for item in (value or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = params.strip().lower().removeprefix("q=")
            try:
                return not params.strip() or float(quality) > 0
            except ValueError:
                return False
    return False


# Escaped inside JSON strings, as Go's encoding/json does (HTML-safe `<`, `>`, `&`; U+2028 and
# U+2029), and characters beyond the BMP as UTF-16 surrogate pairs, as many encoders do; every other
# character is sent as UTF-8. These characters only ever occur inside strings in JSON text.
_ESCAPED = re.compile("[<>&\u2028\u2029\U00010000-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return json.dumps(char)[1:-1] if ord(char) > 0xFFFF else f"\\u{ord(char):04x}"  # an emoji: a surrogate pair


def encode(body: Any) -> bytes:
    try:
        return _ESCAPED.sub(_escape, json.dumps(body, ensure_ascii=False)).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate somebody stored: escape it rather than fail
        return json.dumps(body).encode("ascii")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "huskyvoice-second-target/1.0"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection ends after this
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: TargetHTTPServer

    def version_string(self) -> str:
        return "huskyvoice-second-target/1.0"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every method reaches the router, which answers 405 or 404
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _dispatch(self) -> None:
        request_id = f"req_{uuid.uuid4().hex}"
        try:
            request = Request(self.command, self.path, self.headers, self._read_body())
            response = self.server.app(request)
            if response.public and isinstance(response.body, dict):
                response.body = response.body | {"request_id": request_id}
        except ApiError as error:
            response = self._error(error, request_id)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            response = self._error(ApiError(500, INTERNAL_ERROR, "Something went wrong on our side."), request_id)
        self._send(response, request_id)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, VALIDATION_ERROR, "Content-Length is not a number.") from None
        if length > MAX_BODY:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            raise ApiError(413, PAYLOAD_TOO_LARGE, f"Bodies are limited to {MAX_BODY} bytes.")
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            try:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            except ValueError:
                self.close_connection = True
                raise ApiError(400, VALIDATION_ERROR, "The chunked body is not well formed.") from None
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return body
            body += self.rfile.read(size)
            self.rfile.readline()
            if len(body) > MAX_BODY:
                self.close_connection = True
                raise ApiError(413, PAYLOAD_TOO_LARGE, f"Bodies are limited to {MAX_BODY} bytes.")

    @staticmethod
    def _error(error: ApiError, request_id: str) -> Response:
        envelope = {"code": error.code, "message": error.message, "request_id": request_id}
        return Response(error.status, {"error": envelope}, error.headers)

    def _send(self, response: Response, request_id: str) -> None:
        payload = b"" if response.status == 204 else encode(response.body)
        headers = {"X-Request-Id": request_id, "Cache-Control": "no-store", **response.headers}
        if response.status != 204:
            headers["Content-Type"] = "application/json; charset=utf-8"
            headers["Vary"] = "Accept-Encoding"
            if accepts_gzip(self.headers.get("Accept-Encoding")):
                payload, headers["Content-Encoding"] = gzip.compress(payload, mtime=0), "gzip"
        chunked = len(payload) > CHUNKED_ABOVE and self.request_version == "HTTP/1.1" and self.command != "HEAD"
        headers |= {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(payload))}
        if self.close_connection:
            headers["Connection"] = "close"
        self.send_response(response.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if chunked:
            pieces = [payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)]
            self.wfile.write(b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n")
        elif self.command != "HEAD":
            self.wfile.write(payload)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (bad request line, huge headers), in the envelope."""
        self.close_connection = True
        status = code if 400 <= code < 500 else 400
        error = ApiError(status, _CODES.get(status, VALIDATION_ERROR), message or "The request is not valid HTTP.")
        if not hasattr(self, "headers"):
            self.headers = self.MessageClass()
        self.command = getattr(self, "command", None) or "GET"
        request_id = f"req_{uuid.uuid4().hex}"
        self._send(self._error(error, request_id), request_id)


class TargetHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App, *, verbose: bool = False) -> None:
        self.app, self.verbose = app, verbose
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class SecondTarget:
    """The target on a free loopback port in a background thread: `with SecondTarget(cfg) as t: t.url`."""

    def __init__(self, config: TargetConfig, *, host: str = LOOPBACK, port: int = 0, verbose: bool = False) -> None:
        self.app = App(config)
        self._server = TargetHTTPServer((host, port), self.app, verbose=verbose)
        self.host, self.port = host, self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="second-target", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SecondTarget:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=10)

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the `python -m` entry)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def __enter__(self) -> SecondTarget:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
