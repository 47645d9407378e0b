"""The mock's HTTP protocol: a request reaches the application once and whole, or not at all.

Raw sockets against a real uvicorn: what matters is which bytes get which answer, and what the
application saw (a wrapper counts the requests that reach it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from conftest import FIXTURES_TOKEN
from helpers import Tenant
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from conformance.mock import MockConfig, MockServer, one_write
from conformance.mock.protocol import HttpProtocol
from conformance.mock.server import UVICORN_OPTIONS
from conformance.target.fixtures_client import FixturesClient

Seen = Counter[tuple[str, str]]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[MockServer, Seen]]:
    seen: Seen = Counter()

    def wrap(app: Any) -> Any:
        async def counting(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen[scope["method"], scope["path"]] += 1
            await app(scope, receive, send)

        return counting

    with MockServer(MockConfig(fixtures_token=FIXTURES_TOKEN), wrap=wrap) as server:
        yield server, seen


@pytest.fixture(scope="module")
def port(served: tuple[MockServer, Seen]) -> int:
    return int(served[0].port)


@pytest.fixture
def seen(served: tuple[MockServer, Seen]) -> Seen:
    served[1].clear()
    return served[1]


@pytest.fixture(scope="module")
def http(served: tuple[MockServer, Seen]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0].url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def tenant(http: httpx.Client) -> Tenant:
    fixtures = FixturesClient(http, FIXTURES_TOKEN)
    org = fixtures.org()
    return Tenant(org, fixtures.key(org))


def _call(http: httpx.Client, tenant: Tenant, status: str) -> str:
    return str(FixturesClient(http, FIXTURES_TOKEN).call(tenant.org, status)["call_id"])


def _status(http: httpx.Client, tenant: Tenant, call_id: str) -> str | int:
    answer = http.get(f"/v1/calls/{call_id}", headers=tenant.bearer)
    return str(answer.json()["data"]["status"]) if answer.status_code == 200 else answer.status_code


def _request(method: str, target: str, headers: str = "") -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode()


def _answers(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """`count` answers read off a connection: status, headers (lower-case names), body."""
    buffer, answers = b"", list[tuple[int, dict[str, str], bytes]]()

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
        pairs = (line.split(": ", 1) for line in lines[1:])
        headers = {name.lower(): value for name, value in pairs}
        size = int(headers.get("content-length", "0"))
        while len(buffer) < size:
            buffer += more()
        body, buffer = buffer[:size], buffer[size:]
        status = int(lines[0].split(" ")[1])
        if status != 100:
            answers.append((status, headers, body))
    return answers


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def _exchange(port: int, *parts: bytes, pause: float = 0.0) -> tuple[int, dict[str, str], bytes]:
    """The one answer to `parts`, written one after the other; the connection must close after it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for part in parts:
            sock.sendall(part)
            time.sleep(pause)
        ((status, headers, body),) = _answers(sock, 1)
        return status, headers, body


def _code(body: bytes) -> str:
    return str(json.loads(body)["error"]["code"])


def test_the_mock_is_served_by_this_protocol() -> None:
    assert UVICORN_OPTIONS["http"] is HttpProtocol


def test_a_method_llhttp_does_not_know_is_answered_by_the_mock(port: int, seen: Seen) -> None:
    status, headers, body = _exchange(port, _request("FOO", "/v1/calls/x"))
    assert (status, _code(body), headers["allow"]) == (405, "METHOD_NOT_ALLOWED", "GET, HEAD, DELETE")
    assert seen == {("FOO", "/v1/calls/x"): 1}


def test_a_connection_handed_to_h11_closes_after_its_answer(port: int) -> None:
    """h11 parses that one head; its body and whatever follows are not read."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request("GET", "/v1/calls/x"))
        assert _answers(sock, 1)[0][0] == 401
        sock.sendall(_request("FOO", "/v1/calls/x") + _request("GET", "/v1/calls/x"))
        ((status, headers, _),) = _answers(sock, 1)
        assert (status, headers["connection"]) == (405, "close")
        assert _closed(sock)


def test_a_target_without_its_slash_is_routed_by_h11(port: int) -> None:
    status, _, body = _exchange(port, _request("GET", "v1/calls/x"))
    assert (status, _code(body)) == (404, "NOT_FOUND")


# --- a connection's first line: held unparsed until it is whole ------------------------------------


def test_a_first_line_still_coming_costs_no_set_up_until_it_is_whole(
    port: int, seen: Seen, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood of connections that each send half a request line costs a few µs each, not uvicorn's set-up."""
    set_up: list[object] = []
    original = HttpToolsProtocol.__init__

    def counting(self: HttpToolsProtocol, *args: Any, **kwargs: Any) -> None:
        set_up.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(HttpToolsProtocol, "__init__", counting)
    with ExitStack() as stack:
        halves = [stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10)) for _ in range(5)]
        for sock in halves:
            sock.sendall(b"GET /v1/calls/nope HT")
        time.sleep(0.1)
        assert set_up == []
        for sock in halves:
            sock.sendall(b"TP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert [_answers(sock, 1)[0][0] for sock in halves] == [401] * 5
    assert len(set_up) == 5
    assert seen == Counter({("GET", "/v1/calls/nope"): 5})


def test_a_request_line_sent_a_byte_at_a_time_is_answered(port: int, tenant: Tenant, seen: Seen) -> None:
    line = b"GET /v1/calls/nope HTTP/1.1"
    rest = f"\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {tenant.key}\r\n\r\n".encode()
    status, _, body = _exchange(port, *(line[n : n + 1] for n in range(len(line))), rest, pause=0.002)
    assert (status, _code(body)) == (404, "NOT_FOUND")
    assert seen == Counter({("GET", "/v1/calls/nope"): 1})


@pytest.mark.parametrize("first", [b"\x16\x03\x01\x00\xa5\x01\x00", b"\x00"])
def test_bytes_that_start_no_request_line_are_refused_at_once(port: int, seen: Seen, first: bytes) -> None:
    """Not held until the deadline (10 s here) as a line still coming would be: a 400 in the envelope."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(first)
        ((status, _, body),) = _answers(sock, 1)
    assert (status, _code(body)) == (400, "VALIDATION_ERROR")
    assert seen == Counter()


def test_a_pipelined_request_llhttp_refuses_gets_the_envelope_400_after_the_one_before(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request("GET", "/v1/calls/x") + _request("FOO", "/v1/calls/x"))
        (first, _, _), (status, headers, body) = _answers(sock, 2)
        assert _closed(sock)
    assert (first, status, headers["content-type"], _code(body)) == (401, 400, "application/json", "VALIDATION_ERROR")


def _chunked(method: str, target: str, tenant: Tenant, chunks: bytes, extra: str = "") -> bytes:
    auth = f"Authorization: Bearer {tenant.key}\r\n" if tenant else ""
    return _request(method, target, f"{auth}{extra}Transfer-Encoding: chunked\r\n") + chunks


BAD_CHUNKS = [
    pytest.param(b"zz\r\n", id="chunk-size-zz"),
    pytest.param(b"3\r\n{}}\r\nqq\r\n", id="second-chunk-bad"),
    pytest.param(b"2\r\n{}XX", id="no-crlf-after-data"),
]


@pytest.mark.parametrize("chunks", BAD_CHUNKS)
@pytest.mark.parametrize("split", [False, True], ids=["one-packet", "head-then-body"])
def test_a_malformed_chunked_delete_is_400_and_deletes_nothing(
    port: int, http: httpx.Client, tenant: Tenant, seen: Seen, chunks: bytes, split: bool
) -> None:
    call_id = _call(http, tenant, "completed")
    data = _chunked("DELETE", f"/v1/calls/{call_id}", tenant, chunks)
    cut = data.index(b"\r\n\r\n") + 4 if split else len(data)
    status, headers, body = _exchange(port, data[:cut], data[cut:], pause=0.05)
    assert (status, headers["content-type"], _code(body)) == (400, "application/json", "VALIDATION_ERROR")
    assert _status(http, tenant, call_id) == "completed"
    assert seen["DELETE", f"/v1/calls/{call_id}"] == 0


def test_a_malformed_delete_pipelined_behind_a_get_is_400_after_the_get_and_deletes_nothing(
    port: int, http: httpx.Client, tenant: Tenant, seen: Seen
) -> None:
    call_id = _call(http, tenant, "completed")
    auth = f"Authorization: Bearer {tenant.key}\r\n"
    data = _request("GET", f"/v1/calls/{call_id}", auth) + _chunked("DELETE", f"/v1/calls/{call_id}", tenant, b"zz\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        (first, _, _), (status, _, body) = _answers(sock, 2)
        assert _closed(sock)
    assert (first, status, _code(body)) == (200, 400, "VALIDATION_ERROR")
    assert _status(http, tenant, call_id) == "completed"
    assert seen["DELETE", f"/v1/calls/{call_id}"] == 0


@pytest.mark.parametrize("chunks", BAD_CHUNKS)
def test_a_malformed_chunked_cancel_is_400_and_cancels_nothing(
    port: int, http: httpx.Client, tenant: Tenant, seen: Seen, chunks: bytes
) -> None:
    call_id = _call(http, tenant, "queued")
    status, _, body = _exchange(port, _chunked("POST", f"/v1/calls/{call_id}/cancel", tenant, chunks))
    assert (status, _code(body)) == (400, "VALIDATION_ERROR")
    assert _status(http, tenant, call_id) == "queued"
    assert seen["POST", f"/v1/calls/{call_id}/cancel"] == 0


@pytest.mark.parametrize("action", ["call.delete", "call.cancel", "call.create"])
def test_a_malformed_chunked_webhook_is_400_and_does_nothing(
    port: int, http: httpx.Client, tenant: Tenant, seen: Seen, action: str
) -> None:
    call_id = _call(http, tenant, "completed" if action == "call.delete" else "queued")
    body = json.dumps({"action": action, "data": {"call_id": call_id}}).encode()
    chunks = b"%x\r\n%s\r\nzz\r\n" % (len(body), body)
    path = f"/v1/hooks/{tenant.org.webhook_token}"
    status, _, answer = _exchange(port, _chunked("POST", path, tenant, chunks, "Content-Type: application/json\r\n"))
    assert (status, _code(answer)) == (400, "VALIDATION_ERROR")
    assert _status(http, tenant, call_id) == ("completed" if action == "call.delete" else "queued")
    assert seen["POST", path] == 0


def test_content_length_and_transfer_encoding_together_is_400_and_runs_nothing(
    port: int, http: httpx.Client, tenant: Tenant, seen: Seen
) -> None:
    queued, completed = _call(http, tenant, "queued"), _call(http, tenant, "completed")
    smuggled = _request("DELETE", f"/v1/calls/{completed}", f"Authorization: Bearer {tenant.key}\r\n")
    data = _chunked("POST", f"/v1/calls/{queued}/cancel", tenant, b"0\r\n\r\n" + smuggled, "Content-Length: 5\r\n")
    status, _, body = _exchange(port, data)
    assert (status, _code(body)) == (400, "VALIDATION_ERROR")
    assert (_status(http, tenant, queued), _status(http, tenant, completed)) == ("queued", "completed")
    assert [key for key in seen if key[0] != "GET" and key[1].startswith("/v1/")] == []


def test_both_framings_are_refused_on_the_h11_path_too(port: int, seen: Seen) -> None:
    data = _request("FOO", "/v1/calls/x", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + b"0\r\n\r\n"
    status, _, body = _exchange(port, data)
    assert (status, _code(body)) == (400, "VALIDATION_ERROR")
    assert not seen


def test_each_request_reaches_the_application_once(port: int, http: httpx.Client, tenant: Tenant, seen: Seen) -> None:
    """Keep-alive, a body in three packets, a chunked body, pipelining, and odd methods: once each."""
    completed = _call(http, tenant, "completed")
    seen.clear()
    body = json.dumps({"agent_id": "agent_once", "contact_number": "+919000000001"}).encode()
    auth = f"Authorization: Bearer {tenant.key}\r\nContent-Type: application/json\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        create = _request("POST", "/v1/calls", f"{auth}Content-Length: {len(body)}\r\n") + body
        for part in (create[:30], create[30:-10], create[-10:]):
            sock.sendall(part)
            time.sleep(0.03)
        assert _answers(sock, 1)[0][0] == 201
        sock.sendall(_chunked("POST", "/v1/calls", tenant, b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body), auth))
        assert _answers(sock, 1)[0][0] == 201
        sock.sendall(
            _request("GET", f"/v1/calls/{completed}", auth) + _request("DELETE", f"/v1/calls/{completed}", auth)
        )
        assert [status for status, _, _ in _answers(sock, 2)] == [200, 200]
        sock.sendall(_request("GET", "/v1/calls/y") + _request("FOO", "/v1/calls/y"))  # the GET parsed: no h11
        assert [status for status, _, _ in _answers(sock, 2)] == [401, 400]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request("FOO", "/v1/calls/x"))
        assert _answers(sock, 1)[0][0] == 405
    assert seen == {
        ("GET", "/v1/calls/y"): 1,
        ("POST", "/v1/calls"): 2,
        ("GET", f"/v1/calls/{completed}"): 1,
        ("DELETE", f"/v1/calls/{completed}"): 1,
        ("FOO", "/v1/calls/x"): 1,
    }


def test_expect_100_continue_gets_its_interim_answer_before_the_body(port: int, tenant: Tenant) -> None:
    body = json.dumps({"agent_id": "agent_expect", "contact_number": "+919000000002"}).encode()
    head = f"Authorization: Bearer {tenant.key}\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request("POST", "/v1/calls", head))
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        assert _answers(sock, 1)[0][0] == 201


def test_a_client_gone_mid_body_leaves_no_error(
    port: int, tenant: Tenant, seen: Seen, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing reaches the application, so no 500 in the access log and no traceback."""
    caplog.set_level(logging.INFO)
    for framing in ("Content-Length: 1000\r\n", "Transfer-Encoding: chunked\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(_request("POST", "/v1/calls", f"Authorization: Bearer {tenant.key}\r\n{framing}") + b"5\r\n{")
            time.sleep(0.05)
    time.sleep(0.1)
    assert not seen
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or '"status": 500' in r.getMessage()] == []


# --- an answer leaves in one write ---------------------------------------------------------------------


class _Writes:
    """A transport that keeps what is written to it, write by write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _cycle(
    method: str,
    transport: _Writes,
    *,
    keep_alive: bool = True,
    default_headers: list[tuple[bytes, bytes]] | None = None,
) -> Any:
    scope = {"type": "http", "method": method, "path": "/", "headers": []}
    cycle = RequestResponseCycle(
        scope=scope,  # type: ignore[arg-type]
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test"),
        access_log=False,
        default_headers=default_headers or [],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=keep_alive,
        on_response=lambda: None,
    )
    cycle.__class__ = one_write.OneWriteCycle  # as `HttpProtocol._start_asgi_task` does
    return cycle


async def _answer(cycle: Any, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    await cycle.send({"type": "http.response.start", "status": 200, "headers": headers})
    await cycle.send({"type": "http.response.body", "body": body})


def test_an_answer_s_head_and_body_leave_in_one_write() -> None:
    """Two writes are two system calls and, with TCP_NODELAY, two segments for the client to read."""
    transport = _Writes()
    asyncio.run(_answer(_cycle("GET", transport), b'{"ok":true}'))
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b'\r\n\r\n{"ok":true}')


_DEFAULTS = [(b"date", b"Sun, 06 Dec 2026 12:00:00 GMT"), (b"server", b"uvicorn")]
_LENGTH = (b"content-length", b"11")
# (status, headers, body messages): answers the one write builds itself, and some it leaves to uvicorn
_ANSWERS: list[tuple[int, list[tuple[bytes, bytes]], list[dict[str, Any]]]] = [
    (200, [_LENGTH, (b"content-type", b"application/json")], [{"body": b'{"ok":true}'}]),
    (429, [(b"Retry-After", b"1"), _LENGTH, (b"Content-Type", b"application/json")], [{"body": b'{"ok":true}'}]),
    (204, [], [{"body": b""}]),
    (200, [], [{"body": b"12345678901", "more_body": True}, {"body": b""}]),  # no length: chunked
    (200, [_LENGTH, (b"connection", b"close")], [{"body": b'{"ok":true}'}]),
    (200, [(b"transfer-encoding", b"chunked")], [{"body": b'{"ok":true}'}]),
    (200, [_LENGTH], [{"body": b"12345", "more_body": True}, {"body": b"678901"}]),
]


@pytest.mark.parametrize("keep_alive", [True, False])
@pytest.mark.parametrize(("status", "headers", "bodies"), _ANSWERS)
def test_an_answer_has_the_bytes_uvicorn_would_write(
    status: int, headers: list[tuple[bytes, bytes]], bodies: list[dict[str, Any]], keep_alive: bool
) -> None:
    """Whether the one write builds the answer or leaves it to uvicorn: the same bytes, the same close."""
    written = []
    for cycle_class in (RequestResponseCycle, one_write.OneWriteCycle):
        transport = _Writes()
        cycle = _cycle("GET", transport, keep_alive=keep_alive, default_headers=_DEFAULTS)
        cycle.__class__ = cycle_class

        async def answer(cycle: Any = cycle) -> None:
            await cycle.send({"type": "http.response.start", "status": status, "headers": headers})
            for body in bodies:
                await cycle.send({"type": "http.response.body", **body})

        asyncio.run(answer())
        assert cycle.response_complete
        written.append((b"".join(transport.writes), transport.closed))
    assert written[1] == written[0]


@pytest.mark.parametrize(
    "headers", [[(b"content-length", b"3")], [(b"x-bad", b"a\nb"), _LENGTH], [(b"bad name", b"1"), _LENGTH]]
)
def test_an_answer_uvicorn_refuses_is_refused_as_uvicorn_does(headers: list[tuple[bytes, bytes]]) -> None:
    """A length that does not match the body, a header uvicorn refuses: its RuntimeError, the same bytes written."""
    written = []
    for cycle_class in (RequestResponseCycle, one_write.OneWriteCycle):
        transport = _Writes()
        cycle = _cycle("GET", transport)
        cycle.__class__ = cycle_class

        async def answer(cycle: Any = cycle) -> None:
            await cycle.send({"type": "http.response.start", "status": 200, "headers": headers})
            await cycle.send({"type": "http.response.body", "body": b'{"ok":true}'})

        with pytest.raises(RuntimeError):
            asyncio.run(answer())
        written.append(b"".join(transport.writes))
    assert written[1] == written[0]


def test_a_head_without_a_body_write_and_a_failure_mid_answer() -> None:
    """HEAD (uvicorn writes no body): its head goes out. An application that fails after starting its
    answer, before its body, has sent nothing yet: uvicorn answers 500, whole, and closes."""
    head_only, failed = _Writes(), _Writes()
    asyncio.run(_answer(_cycle("HEAD", head_only), b'{"ok":true}'))
    assert b"".join(head_only.writes).startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"".join(head_only.writes).endswith(b"\r\n\r\n")

    async def failing(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        raise RuntimeError("mid-answer")

    asyncio.run(_cycle("GET", failed).run_asgi(failing))
    assert b"".join(failed.writes).startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert b"".join(failed.writes).endswith(b"\r\n\r\nInternal Server Error")
    assert failed.closed


def test_every_request_is_answered_through_the_one_write_cycle() -> None:
    """Requests served by the mock's protocol, the h11 path's included, send through `OneWriteCycle`."""
    cycles: list[type] = []

    def wrap(app: Any) -> Any:
        async def noting(scope: Any, receive: Any, send: Any) -> None:
            cycles.append(type(send.__self__))
            await app(scope, receive, send)

        return noting

    with MockServer(MockConfig(), wrap=wrap) as server:
        httpx.get(f"{server.url}/v1/calls/x")
        _exchange(server.port, _request("FOO", "/v1/calls/x"))
    assert cycles == [one_write.OneWriteCycle, one_write.OneWriteCycle]
