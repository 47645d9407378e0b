"""The mock's bounds (docs/mock.md, "Bounds"), each against the attack it stops, with raw sockets on loopback.

Every attack here is small (tens of connections, fractions of a second): what it shows is the
mechanism; `benchmarks/mock_soak.py` measures memory at scale. During each, a normal client must
still be answered within 100 ms.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from conftest import FIXTURES_TOKEN
from helpers import Tenant
from starlette.testclient import TestClient
from starlette.types import Message

from conformance.mock import MockConfig, MockServer, create_app, validation
from conformance.mock import server as mock_server
from conformance.mock.errors import ApiError
from conformance.mock.ratelimit import SlidingWindow
from conformance.mock.store import SCOPES
from conformance.target.fixtures_client import FixturesClient

CREATE = {"agent_id": "agent_cap", "contact_number": "+919000000003"}
TIMEOUT = 0.5  # the request timeout of the servers here (10 s by default)
CLI = [sys.executable, "-c", "import sys; from conformance.cli import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    config = MockConfig(fixtures_token=FIXTURES_TOKEN, request_timeout_seconds=TIMEOUT, max_connections=32)
    with MockServer(config) as mock:
        yield mock


@pytest.fixture(scope="module")
def tenant(server: MockServer) -> Tenant:
    with httpx.Client(base_url=server.url) as http:
        fixtures = FixturesClient(http, FIXTURES_TOKEN)
        org = fixtures.org()
        return Tenant(org, fixtures.key(org))


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _head(target: str, headers: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode()


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, f"closed without an answer (after {data[:80]!r})"
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return int(lines[0].split(" ")[1]), headers, body


def _closed(sock: socket.socket, within: float) -> bool:
    """Whether the server closes `sock` within `within` seconds (any bytes before that are skipped)."""
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def _normal_client_answered(port: int, tenant: Tenant) -> float:
    """Seconds a fresh client waits for a GET's answer (a 404: the call does not exist)."""
    started = time.perf_counter()
    with _connect(port) as sock:
        sock.sendall(_head("/v1/calls/nope", f"Authorization: Bearer {tenant.key}\r\n"))
        status, _, _ = _answer(sock)
    assert status == 404
    return time.perf_counter() - started


# --- the request head: 16 KiB -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "FOO"], ids=["llhttp", "h11"])
def test_a_head_over_16_kib_gets_431_before_it_ends(server: MockServer, tenant: Tenant, method: str) -> None:
    with _connect(server.port) as sock:
        sock.sendall(f"{method} /v1/calls/x HTTP/1.1\r\nHost: h\r\nX-Big: ".encode())
        for _ in range(5):  # 20 KiB of one header, never finished
            sock.sendall(b"a" * 4096)
            time.sleep(0.01)
        status, headers, body = _answer(sock)
        assert (status, json.loads(body)["error"]["code"], headers["connection"]) == (431, "PAYLOAD_TOO_LARGE", "close")
        assert _closed(sock, 1)
    assert _normal_client_answered(server.port, tenant) < 0.1


@pytest.mark.parametrize("method", ["GET", "FOO"], ids=["llhttp", "h11"])
def test_a_whole_head_over_16_kib_in_one_packet_gets_431_and_runs_nothing(server: MockServer, method: str) -> None:
    with _connect(server.port) as sock:
        sock.sendall(_head("/v1/calls/x", f"X-Pad: {'p' * 17_000}\r\n").replace(b"GET", method.encode(), 1))
        status, _, body = _answer(sock)
    assert (status, json.loads(body)["error"]["code"]) == (431, "PAYLOAD_TOO_LARGE")


def test_a_head_just_under_the_limit_is_served(server: MockServer, tenant: Tenant) -> None:
    with _connect(server.port) as sock:
        sock.sendall(_head("/v1/calls/nope", f"Authorization: Bearer {tenant.key}\r\nX-Pad: {'p' * 15_000}\r\n"))
        assert _answer(sock)[0] == 404


# --- the request timeout: connections with no request in flight ---------------------------------------


@pytest.mark.parametrize(
    "sends",
    [
        pytest.param([], id="nothing"),
        pytest.param([b"GET /v1/calls/x HTTP/1.1\r\n"] + [b"X-Slow: 1\r\n"] * 9, id="slowloris-head"),
        pytest.param([b"POST /v1/calls HTTP/1.1\r\nContent-Length: 100\r\n\r\n"] + [b"{"] * 9, id="slow-body"),
        pytest.param([_head("/v1/calls/x")], id="idle-after-an-answer"),
    ],
)
def test_a_connection_with_no_request_in_flight_closes_after_the_timeout(
    server: MockServer, tenant: Tenant, sends: list[bytes]
) -> None:
    with _connect(server.port) as sock:
        started = time.monotonic()
        try:
            for data in sends:  # one piece every 0.1 s: never idle for as long as the timeout
                sock.sendall(data)
                time.sleep(0.1)
        except OSError:  # closed meanwhile
            pass
        assert _normal_client_answered(server.port, tenant) < 0.1
        assert _closed(sock, TIMEOUT + 0.5)
        assert TIMEOUT - 0.05 < time.monotonic() - started < TIMEOUT + 0.5


def test_each_answer_moves_the_deadline(server: MockServer) -> None:
    with _connect(server.port) as sock:
        time.sleep(TIMEOUT * 0.6)
        sock.sendall(_head("/v1/calls/x"))
        assert _answer(sock)[0] == 401
        answered = time.monotonic()
        assert not _closed(sock, TIMEOUT * 0.7)  # past the first deadline, not yet the second
        assert _closed(sock, TIMEOUT)
        assert time.monotonic() - answered >= TIMEOUT - 0.05


@pytest.mark.parametrize("then", [b"", b"GET /v1/calls/x HTTP/1.1\r\n"], ids=["idle", "a-head-begun"])
def test_after_an_answer_an_idle_connection_closes_at_the_keep_alive_timeout(
    monkeypatch: pytest.MonkeyPatch, then: bytes
) -> None:
    """uvicorn's keep-alive timeout (5 s by default, 0.3 s here), kept by the connection's own deadline:
    it applies from an answer until the next byte; a head begun after it has the request timeout."""
    monkeypatch.setitem(mock_server.UVICORN_OPTIONS, "timeout_keep_alive", 0.3)
    with MockServer(MockConfig(request_timeout_seconds=1.5)) as mock, _connect(mock.port) as sock:
        time.sleep(0.4)  # the keep-alive runs from an answer only, not from the opening
        sock.sendall(_head("/v1/calls/x"))
        assert _answer(sock)[0] == 401
        answered = time.monotonic()
        sock.sendall(then)
        assert _closed(sock, 2.5)
        waited = time.monotonic() - answered
    assert (0.25 < waited < 0.8) if not then else (1.45 < waited < 2.2)


def test_a_client_that_does_not_read_its_answers_is_cut_off(server: MockServer, tenant: Tenant) -> None:
    with httpx.Client(base_url=server.url) as http:
        big = {"note": "n" * 60_000}
        call_id = FixturesClient(http, FIXTURES_TOKEN).call(tenant.org, "queued", additional_info=big)["call_id"]
    request = _head(f"/v1/calls/{call_id}", f"Authorization: Bearer {tenant.key}\r\n")
    with _connect(server.port) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(request * 300)  # 18 MB of answers, never read
        time.sleep(TIMEOUT + 0.5)
        assert _normal_client_answered(server.port, tenant) < 0.1
        received, ended, deadline = 0, False, time.monotonic() + 2
        sock.settimeout(2)
        try:
            while not ended and time.monotonic() < deadline:
                chunk = sock.recv(1 << 20)
                received, ended = received + len(chunk), not chunk
        except ConnectionResetError:
            ended = True  # reset: what the kernel still held is dropped too
        assert ended
        assert received < 1_000_000


def test_a_request_in_flight_is_not_cut_by_the_timeout(tenant: Tenant) -> None:
    config = MockConfig(fixtures_token=FIXTURES_TOKEN, request_timeout_seconds=0.2, latency_ms=400)
    with MockServer(config) as slow, _connect(slow.port) as sock:
        sock.sendall(_head("/v1/calls/x"))
        assert _answer(sock)[0] == 401  # after 0.4 s, twice the timeout


# --- the connection cap ---------------------------------------------------------------------------------


def test_beyond_the_cap_the_longest_waiting_connection_makes_room(server: MockServer, tenant: Tenant) -> None:
    with ExitStack() as stack:
        idle = [stack.enter_context(_connect(server.port)) for _ in range(32)]
        for sock in idle[16:]:
            sock.sendall(b"GET /v1/calls/x HTTP/1.1\r\n")  # half-sent
        time.sleep(0.05)
        for _ in range(8):  # normal clients that stay connected after their answer
            started = time.perf_counter()
            client = stack.enter_context(_connect(server.port))
            client.sendall(_head("/v1/calls/nope", f"Authorization: Bearer {tenant.key}\r\n"))
            assert _answer(client)[0] == 404
            assert time.perf_counter() - started < 0.1
        closed = [n for n, sock in enumerate(idle) if _closed(sock, 0.01)]
        assert closed == list(range(8))  # the 8 oldest made room for the 8 clients


def test_when_every_connection_is_busy_a_new_one_gets_429() -> None:
    config = MockConfig(max_connections=2, latency_ms=300)
    with MockServer(config) as busy, ExitStack() as stack:
        running = [stack.enter_context(_connect(busy.port)) for _ in range(2)]
        for sock in running:
            sock.sendall(_head("/v1/calls/x"))
        time.sleep(0.1)
        with _connect(busy.port) as extra:
            status, headers, body = _answer(extra)
        assert (status, headers["retry-after"], json.loads(body)["error"]["code"]) == (429, "1", "RATE_LIMIT_EXCEEDED")
        assert [_answer(sock)[0] for sock in running] == [401, 401]


def _established(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False  # its SYN was dropped: the kernel's queue for the mock is full
    return True


def test_the_kernel_queues_at_most_the_backlog_of_new_connections() -> None:
    """While the mock accepts nothing (stopped), 512 handshakes complete (Linux: one more), no more."""
    with subprocess.Popen([*CLI, "mock", "--port", "0", "--no-demo"], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            port = int(proc.stdout.readline().rsplit(":", 1)[1])
            with _connect(port) as sock:  # answered: uvicorn listens now (with its own backlog)
                sock.sendall(_head("/v1/calls/x"))
                assert _answer(sock)[0] == 401
            proc.send_signal(signal.SIGSTOP)
            with ExitStack() as stack:
                waiting = [stack.enter_context(socket.socket()) for _ in range(mock_server.BACKLOG + 20)]
                for sock in waiting:
                    sock.setblocking(False)
                    sock.connect_ex(("127.0.0.1", port))
                time.sleep(0.2)
                queued = sum(map(_established, waiting))
        finally:
            proc.kill()
    assert mock_server.BACKLOG <= queued <= mock_server.BACKLOG + 1


# --- the rate limit's memory -----------------------------------------------------------------------------


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_forgets_identities_idle_for_a_window() -> None:
    clock = Clock()
    window = SlidingWindow(limit=5, window=60, clock=clock)
    for n in range(100):
        window.retry_after(f"key:{n}")
    assert len(window) == 100
    clock.now += 61
    for n in range(30):  # each request forgets a few of the idle ones
        window.retry_after(f"key:new-{n}")
    assert len(window) == 30


def test_the_rate_limit_holds_at_most_its_identities_and_a_digest_of_each() -> None:
    window = SlidingWindow(limit=5, window=60, clock=Clock(), max_identities=50)
    for n in range(200):
        window.retry_after(f"key:{n:02000d}")  # 2000-character keys
    assert len(window) == 50
    assert {len(key) for key in window._hits} == {16}


def test_an_attack_of_fake_keys_does_not_free_a_real_key_of_its_limit() -> None:
    """Fake keys are forgotten first: the least recently counted go, and the real key keeps counting."""
    config = MockConfig(fixtures_token=FIXTURES_TOKEN, rate_limit=3, rate_limit_identities=20)
    with TestClient(create_app(config)) as client:
        key = FixturesClient(client, FIXTURES_TOKEN).key(FixturesClient(client, FIXTURES_TOKEN).org())
        statuses = []
        for n in range(4):
            statuses.append(client.get("/v1/calls/x", headers={"Authorization": f"Bearer {key}"}).status_code)
            for fake in range(5):
                client.get("/v1/calls/x", headers={"x-api-key": f"fake-{n}-{fake}-{'x' * 2000}"})
        assert statuses == [404, 404, 404, 429]
        assert len(client.app.limiter) <= 20  # type: ignore[attr-defined]
        fresh = {"x-api-key": "fake-fresh"}  # a newcomer to a full table is counted all the same
        assert [client.get("/v1/calls/x", headers=fresh).status_code for _ in range(4)] == [401, 401, 401, 429]


# --- wide bodies: the nesting check without the walk ------------------------------------------------------


def _verdict(check: Any, raw: bytes) -> str:
    try:
        check(raw)
    except ApiError as exc:
        return exc.message
    return "ok"


@pytest.mark.parametrize("depth", range(28, 35))
@pytest.mark.parametrize("inner", [b"1", b"{}", b'{"k":[]}', b'"[[{{"', b'"\\\\"', b'"\\"[["', b'"\\\\\\"{{\\\\"'])
@pytest.mark.parametrize("layer", [(b"[", b"]"), (b'{"a":', b"}"), (b'[{"]":', b"}]")])
def test_the_fast_nesting_check_judges_as_the_walk(depth: int, inner: bytes, layer: tuple[bytes, bytes]) -> None:
    """Bodies with many brackets (here 40 in a string) near the 32 levels, by both paths."""
    opening, closing = layer
    raw = b'{"pad":"' + b"[" * 40 + b'","v":' + opening * depth + inner + closing * depth + b"}"
    walked = _verdict(lambda body: validation._check_tree(json.loads(body)), raw)
    assert _verdict(validation.parse_json, raw) == walked


@pytest.mark.parametrize("pad", [b'"\\""', b'"a\\"b"', b'"\\\\\\""', b'"\\\\"'])
def test_escaped_quotes_and_backslashes_hide_no_nesting_from_the_fast_check(pad: bytes) -> None:
    """Strings around a value nested too deep, whose escapes would fool a split on quotes."""
    raw = b'{"p":' + pad + b',"v":' + b"[" * 40 + b"]" * 40 + b',"q":' + pad + b"}"
    assert not validation._shallow(raw)
    assert "nested deeper" in _verdict(validation.parse_json, raw)


def test_a_wide_body_with_brackets_in_its_strings_takes_the_fast_path() -> None:
    raw = json.dumps({"note": "[{" * 40, "v": [[] for _ in range(20_000)]}).encode()
    assert validation._shallow(raw)


_FULL_COLLECTIONS = """
import asyncio, gc, json, sys
from conformance.mock import MockConfig, create_app
from conformance.mock.server import settle_gc
from conformance.mock.store import SCOPES
app = create_app(MockConfig())
if sys.argv[1] == "settled":
    settle_gc(app)
store = app.state.store
key = store.add_key(store.add_org().org_id, frozenset(SCOPES)).secret.encode()
body = {"agent_id": "agent_gc", "contact_number": "+919000000000", "additional_info": {"x": [[]] * 15_000}}
raw = json.dumps(body).encode()
headers = [(b"authorization", b"Bearer " + key), (b"content-type", b"application/json")]
scope = {"type": "http", "method": "POST", "path": "/v1/calls", "raw_path": b"/v1/calls", "headers": headers}


async def create() -> None:
    statuses = []

    async def receive():
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message):
        statuses.append(message.get("status"))

    await app(dict(scope), receive, send)
    assert statuses[0] == 201, statuses


full = []
gc.callbacks.append(lambda phase, info: full.append(1) if phase == "stop" and info["generation"] == 2 else None)
for _ in range(40):
    asyncio.run(create())
print(len(full))
"""


def test_wide_bodies_set_off_no_full_collection_in_the_mock_command_s_process() -> None:
    """Parsed, a 60 KB body is 15,000 lists: collected mid-parse, they reach the oldest generation."""
    runs = {
        how: subprocess.run([sys.executable, "-c", _FULL_COLLECTIONS, how], capture_output=True, text=True, check=True)
        for how in ("settled", "default")
    }
    assert int(runs["settled"].stdout) == 0
    assert int(runs["default"].stdout) > 0  # what settling is for


def test_wide_bodies_take_turns_behind_what_else_is_ready() -> None:
    """Four creates of 60 KB of lists, a GET and a small create, ready at once, in that order.

    Each wide create runs at a turn of the loop of its own, after what was ready before it: the GET
    and the small create are answered first, and a newcomer never waits behind all four.
    """
    app = create_app(MockConfig())
    store = app.state.store
    key = store.add_key(store.add_org().org_id, frozenset(SCOPES)).secret.encode()
    wide = json.dumps({**CREATE, "additional_info": {"x": [[]] * 15_000}}).encode()
    answered: list[tuple[str, int]] = []

    async def request(name: str, method: str, path: str, body: bytes = b"") -> None:
        headers = [(b"authorization", b"Bearer " + key), (b"content-length", str(len(body)).encode())]
        scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "headers": headers}

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered.append((name, message["status"]))

        await app(scope, receive, send)

    async def all_at_once() -> None:
        wides = [request(f"wide {n}", "POST", "/v1/calls", wide) for n in range(4)]
        small = request("small", "POST", "/v1/calls", json.dumps(CREATE).encode())
        await asyncio.gather(*wides, request("get", "GET", "/v1/calls/nope"), small)

    asyncio.run(all_at_once())
    assert answered == [("get", 404), ("small", 201)] + [(f"wide {n}", 201) for n in range(4)]


# --- stored calls: --max-calls, and their fields' bytes ----------------------------------------------------


@pytest.fixture
def capped() -> Iterator[tuple[TestClient, FixturesClient, Tenant]]:
    config = MockConfig(fixtures_token=FIXTURES_TOKEN, max_calls=3, max_call_bytes=20_000)
    with TestClient(create_app(config)) as client:
        fixtures = FixturesClient(client, FIXTURES_TOKEN)
        org = fixtures.org()
        yield client, fixtures, Tenant(org, fixtures.key(org))


def _full(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert answer.headers["retry-after"] == "60"
    assert "maximum of calls" in answer.json()["error"]["message"]


def test_at_max_calls_creates_get_429_and_held_calls_keep_their_contract(
    capped: tuple[TestClient, FixturesClient, Tenant],
) -> None:
    client, fixtures, tenant = capped
    keyed = {**tenant.bearer, "Idempotency-Key": "cap-1"}
    first = client.post("/v1/calls", json=CREATE, headers=keyed)
    completed = fixtures.call(tenant.org, "completed")["call_id"]
    queued = fixtures.call(tenant.org, "queued")["call_id"]
    _full(client.post("/v1/calls", json=CREATE, headers=tenant.bearer))
    _full(client.post(f"/v1/hooks/{tenant.org.webhook_token}", json={"action": "call.create", "data": CREATE}))
    _full(
        client.post(
            "/_fixtures/calls", json={"org_id": tenant.org.org_id, "status": "queued"}, headers=fixtures.headers
        )
    )
    replay = client.post("/v1/calls", json=CREATE, headers=keyed)  # a held call's replay is still answered
    assert (replay.status_code, replay.json()) == (201, first.json())
    assert client.post(f"/v1/calls/{queued}/cancel", headers=tenant.bearer).status_code == 200
    assert client.get(f"/v1/calls/{first.json()['data']['call_id']}", headers=tenant.bearer).status_code == 200
    assert client.delete(f"/v1/calls/{completed}", headers=tenant.bearer).status_code == 200
    assert client.post("/v1/calls", json=CREATE, headers=tenant.bearer).status_code == 201  # the room it left


def test_the_fixtures_reset_frees_every_call(capped: tuple[TestClient, FixturesClient, Tenant]) -> None:
    client, fixtures, tenant = capped
    big = {**CREATE, "additional_info": {"note": "n" * 12_000}}
    for body in (big, CREATE, CREATE):
        assert client.post("/v1/calls", json=body, headers=tenant.bearer).status_code == 201
    _full(client.post("/v1/calls", json=CREATE, headers=tenant.bearer))
    fixtures.reset()
    org = fixtures.org()
    again = Tenant(org, fixtures.key(org))
    for body in (big, CREATE, CREATE):
        assert client.post("/v1/calls", json=body, headers=again.bearer).status_code == 201


def test_the_calls_fields_are_bounded_in_bytes_too(capped: tuple[TestClient, FixturesClient, Tenant]) -> None:
    client, fixtures, tenant = capped
    big = {**CREATE, "additional_info": {"note": "n" * 12_000}}
    held = fixtures.call(tenant.org, "completed", additional_info=big["additional_info"])["call_id"]
    _full(client.post("/v1/calls", json=big, headers=tenant.bearer))  # 24 KB would pass 20 KB
    assert client.post("/v1/calls", json=CREATE, headers=tenant.bearer).status_code == 201
    assert client.delete(f"/v1/calls/{held}", headers=tenant.bearer).status_code == 200
    assert client.post("/v1/calls", json=big, headers=tenant.bearer).status_code == 201  # the bytes it left


def test_max_calls_is_the_commands_option(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from conformance import cli
    from conformance.mock import server as mock_server

    served: list[MockConfig] = []

    def serve(config: MockConfig, sock: socket.socket, **_: object) -> None:
        served.append(config)
        sock.close()

    monkeypatch.setattr(mock_server, "serve", serve)
    assert cli.main(["mock", "--port", "0", "--max-calls", "7"]) == 0
    assert cli.main(["mock", "--port", "0", "--no-demo"]) == 0
    assert [config.max_calls for config in served] == [7, 100_000]
    assert cli.main(["mock", "--port", "0", "--max-calls", "6"]) == 4  # the demo's 7 calls would not fit
    assert "--max-calls 7 or more, or --no-demo" in capsys.readouterr().err


# --- the command: SIGTERM under attack, and a closed pipe ----------------------------------------------------


def test_sigterm_stops_the_mock_within_2_s_under_attack() -> None:
    command = [*CLI, "mock", "--port", "0", "--no-demo", "--latency", "5000"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().rsplit(":", 1)[1])
        with ExitStack() as stack:
            attack = [stack.enter_context(_connect(port)) for _ in range(20)]
            attack[0].sendall(b"POST /v1/calls HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")  # a body half-sent
            attack[1].sendall(b"GET /v1/calls/x HTTP/1.1\r\nX-Never: ")  # a head half-sent
            attack[2].sendall(_head("/v1/calls/x"))  # in flight for 5 s
            time.sleep(0.3)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=5)
            assert time.monotonic() - started < 2
            attack[2].settimeout(1)
            assert attack[2].recv(100) == b""  # cancelled unanswered: no 5xx, ever
        _, errors = proc.communicate()
        assert "Traceback" not in errors, errors
        assert '"status": 500' not in errors, errors
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="POSIX pipes")
def test_list_faults_into_a_closed_pipe_ends_quietly() -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line, as `| head -0` would be
    proc = subprocess.run([*CLI, "mock", "--list-faults"], stdout=write, stderr=subprocess.PIPE, check=False)
    os.close(write)
    assert (proc.returncode, proc.stderr) == (0, b"")
