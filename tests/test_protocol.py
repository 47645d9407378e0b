"""The mock's HTTP protocol: httptools, and h11 for what llhttp refuses but HTTP allows.

Raw sockets against a real uvicorn: what matters is which parser answers which bytes.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from conformance.mock import MockConfig, MockServer
from conformance.mock.protocol import HttpProtocol
from conformance.mock.server import UVICORN_OPTIONS


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with MockServer(MockConfig()) as server:
        yield server.port


def _request(method: str, target: str) -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def _answers(sock: socket.socket, count: int) -> list[tuple[int, str, bytes]]:
    """`count` answers read off a keep-alive connection: status, content type, body."""
    buffer, answers = b"", []

    def more() -> bytes:
        data = sock.recv(65536)
        if not data:
            raise AssertionError(f"the server closed the connection after {len(answers)} answer(s)")
        return data

    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            buffer += more()
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        size = int(headers.get("content-length", "0"))
        while len(buffer) < size:
            buffer += more()
        body, buffer = buffer[:size], buffer[size:]
        answers.append((int(lines[0].split(" ")[1]), headers.get("content-type", ""), body))
    return answers


def _code(body: bytes) -> str:
    return str(json.loads(body)["error"]["code"])


def test_the_mock_is_served_by_this_protocol() -> None:
    assert UVICORN_OPTIONS["http"] is HttpProtocol


def test_a_method_llhttp_does_not_know_is_answered_by_the_mock(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request("FOO", "/v1/calls/x"))
        ((status, _, body),) = _answers(sock, 1)
    assert (status, _code(body)) == (405, "METHOD_NOT_ALLOWED")


def test_a_connection_handed_to_h11_goes_on_serving(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for method, target in [("GET", "/v1/calls/x"), ("FOO", "/v1/calls/x"), ("GET", "/v1/calls/x")]:
            sock.sendall(_request(method, target))
            ((status, content_type, body),) = _answers(sock, 1)
            assert content_type == "application/json"
            assert (status, _code(body)) == ((405, "METHOD_NOT_ALLOWED") if method == "FOO" else (401, "UNAUTHORIZED"))


def test_a_target_without_its_slash_is_routed_by_h11(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request("GET", "v1/calls/x"))
        ((status, _, body),) = _answers(sock, 1)
    assert (status, _code(body)) == (404, "NOT_FOUND")


def test_a_pipelined_request_llhttp_refuses_gets_the_plain_400(port: int) -> None:
    """Its chunk holds a request already parsed: replaying it to h11 would run that one twice.

    So uvicorn answers as it does with httptools: one plain-text 400, the connection closed (the
    pipelined request before it goes unanswered). No client the suite knows pipelines.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request("GET", "/v1/calls/x") + _request("FOO", "/v1/calls/x"))
        ((status, content_type, _),) = _answers(sock, 1)
        assert sock.recv(65536) == b""
    assert (status, content_type) == (400, "text/plain; charset=utf-8")
