"""What one answer may cost (`conformance.http.limits`): 4 MiB decompressed and `--timeout` in all.

Each hostile answer comes from a raw socket server on loopback, and goes both ways the suite sends:
its own client (httpx) and the `requests` session schemathesis sends through.
"""

from __future__ import annotations

import socket
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import httpx
import pytest
import requests
from schemathesis.transport import requests as schemathesis_requests
from suite_runs import RawServer, gzip_bomb, read_head

from conformance.errors import UsageError
from conformance.http.capped_session import ProxyLookup, capped_session, own_sessions_capped
from conformance.http.client import Client, Exchange, check_reachable
from conformance.http.limits import MAX_ANSWER_BYTES, RETIRED_POOLS, AnswerTooLarge, Pools, http_client
from conformance.http.redaction import Secrets

TIMEOUT = 1.0
DRIP = 0.2  # seconds between bytes: every read gets one well within TIMEOUT
SLACK = 0.5  # seconds past the deadline an exchange may take to end
MAX_PEAK = 16 * 1024 * 1024  # bytes the suite may hold for one answer: the cap and some
OVER = f"answer over {MAX_ANSWER_BYTES} bytes (status 200)"
BODY = b'{"data": {"call_id": "call_1"}}'

Answer = Callable[[socket.socket, bytes], None]


def _head(*fields: str) -> bytes:
    return (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + "".join(f + "\r\n" for f in fields) + "\r\n"
    ).encode()


def bomb(sock: socket.socket, head: bytes) -> None:
    data = gzip_bomb()  # made by `_ready`, not as every test process collects this module
    sock.sendall(_head("Content-Encoding: gzip", f"Content-Length: {len(data)}") + data)


def _ready(answer: Answer) -> Answer:
    """`answer`, with the bomb made first if it is the bomb (seconds, once a process: not in the
    time the client is given)."""
    if answer is bomb:
        gzip_bomb()
    return answer


def endless(sock: socket.socket, head: bytes) -> None:
    sock.sendall(_head())  # no length: the body ends when the connection does, which is never
    while True:
        sock.sendall(b"x" * 65536)


def flowing(sock: socket.socket, head: bytes) -> None:
    sock.sendall(_head())
    while True:  # about 100 KB/s, for ever
        sock.sendall(b"x" * 1024)
        time.sleep(0.01)


def drip_head(sock: socket.socket, head: bytes) -> None:
    for byte in _head(f"Content-Length: {len(BODY)}") + BODY:
        sock.sendall(bytes([byte]))
        time.sleep(DRIP)


def drip_body(sock: socket.socket, head: bytes) -> None:
    sock.sendall(_head())
    while True:
        sock.sendall(b" ")
        time.sleep(DRIP)


def redirect(sock: socket.socket, head: bytes) -> None:
    sock.sendall(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")


def encoded(coding: str, packed: bytes) -> Answer:
    def answer(sock: socket.socket, head: bytes) -> None:
        sock.sendall(_head(f"Content-Encoding: {coding}", f"Content-Length: {len(packed)}") + packed)

    return answer


def _deflate(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@pytest.fixture
def client() -> Iterator[Callable[[str], Client]]:
    made: list[Client] = []

    def make(url: str) -> Client:
        made.append(Client(url, timeout=TIMEOUT, secrets=Secrets()))
        return made[-1]

    yield make
    for each in made:
        each.close()


def _measured(send: Callable[[], object]) -> tuple[object, float, int]:
    """What `send()` gave, the seconds it took and the peak of memory it allocated."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        outcome = send()
    finally:
        elapsed, peak = time.monotonic() - started, tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return outcome, elapsed, peak


def _own_session() -> requests.Session:
    """A session as schemathesis makes one itself (for `ignored_auth`'s probes), while the schema
    layer checks an answer."""
    with own_sessions_capped():
        return schemathesis_requests.SameHostRedirectsSession()  # as schemathesis calls it


SESSIONS = {"the layer's": capped_session, "schemathesis' own": _own_session}


def _requests_get(url: str, made_by: str = "the layer's") -> object:
    with SESSIONS[made_by]() as session:
        try:
            return session.get(url, timeout=TIMEOUT)
        except requests.RequestException as error:
            return error


# --- the suite's client ----------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [bomb, endless], ids=["gzip bomb", "endless body"])
def test_the_client_stops_reading_at_the_cap(client: Callable[[str], Client], answer: Answer) -> None:
    with RawServer(_ready(answer)) as server:
        exchange, _, peak = _measured(lambda: client(server.url).request("GET", "/v1/calls/x"))
    assert isinstance(exchange, Exchange)
    assert (exchange.status, exchange.error) == (None, OVER)
    assert exchange.outcome() == f"no answer: {OVER}"
    assert peak < MAX_PEAK, f"{peak} bytes held for one answer"


UNDER_THE_CAP = [drip_head, drip_body, flowing]
UNDER_THE_CAP_IDS = ["drips its head", "drips its body", "flows for ever"]


@pytest.mark.parametrize("answer", UNDER_THE_CAP, ids=UNDER_THE_CAP_IDS)
def test_the_client_ends_an_exchange_at_the_deadline(client: Callable[[str], Client], answer: Answer) -> None:
    with RawServer(answer) as server:
        exchange, elapsed, _ = _measured(lambda: client(server.url).request("GET", "/v1/calls/x"))
    assert isinstance(exchange, Exchange)
    assert (exchange.status, exchange.error) == (None, "timed out")
    assert TIMEOUT <= elapsed < TIMEOUT + SLACK


def test_the_client_follows_no_redirect(client: Callable[[str], Client]) -> None:
    with RawServer(redirect) as server:
        exchange = client(server.url).request("GET", "/v1/calls/x")
    assert exchange.status == 302
    assert [head.split(b" ")[1] for head in server.heads] == [b"/v1/calls/x"]


@pytest.mark.parametrize(
    ("coding", "packed"),
    [
        ("gzip", zlib.compress(BODY, wbits=zlib.MAX_WBITS | 16)),
        ("deflate", _deflate(BODY, zlib.MAX_WBITS)),
        ("deflate", _deflate(BODY, -zlib.MAX_WBITS)),
        ("identity", BODY),
    ],
    ids=["gzip", "deflate", "raw deflate", "identity"],
)
def test_a_compressed_answer_under_the_cap_reads_whole(
    client: Callable[[str], Client], coding: str, packed: bytes
) -> None:
    with RawServer(encoded(coding, packed)) as server:
        exchange = client(server.url).request("GET", "/v1/calls/x")
    assert (exchange.status, exchange.response_body) == (200, BODY)


def test_a_broken_compression_is_no_answer(client: Callable[[str], Client]) -> None:
    with RawServer(encoded("gzip", b"not gzip at all")) as server:
        exchange = client(server.url).request("GET", "/v1/calls/x")
    assert (exchange.status, exchange.error) == (None, "DecodingError")


def test_the_client_asks_only_for_the_codings_it_undoes(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx offers `br` and `zstd` where their packages are installed; the client must not, or a
    target that compresses with them would seem to answer no JSON."""
    monkeypatch.setattr(httpx._client, "ACCEPT_ENCODING", "gzip, deflate, br, zstd")
    with http_client(1.0) as http:
        assert http.build_request("GET", "http://127.0.0.1:9/").headers["accept-encoding"] == "gzip, deflate"


def test_the_reachability_check_ends_at_the_deadline() -> None:
    with RawServer(drip_head) as server:
        started = time.monotonic()
        with pytest.raises(UsageError, match=r"cannot reach the target .* \(ReadTimeout\)"):
            check_reachable(server.url, TIMEOUT)
    assert time.monotonic() - started < TIMEOUT + SLACK


# --- schemathesis' requests --------------------------------------------------------------------------


@pytest.mark.parametrize("made_by", SESSIONS)
@pytest.mark.parametrize("answer", [bomb, endless], ids=["gzip bomb", "endless body"])
def test_requests_stop_reading_at_the_cap(answer: Answer, made_by: str) -> None:
    with RawServer(_ready(answer)) as server:
        outcome, _, peak = _measured(lambda: _requests_get(f"{server.url}/v1/calls/x", made_by))
    assert isinstance(outcome, AnswerTooLarge)
    assert str(outcome) == OVER
    assert outcome.request is not None, "schemathesis' reproduction needs the request"
    assert peak < MAX_PEAK, f"{peak} bytes held for one answer"


@pytest.mark.parametrize("made_by", SESSIONS)
@pytest.mark.parametrize("answer", UNDER_THE_CAP, ids=UNDER_THE_CAP_IDS)
def test_requests_end_at_the_deadline(answer: Answer, made_by: str) -> None:
    with RawServer(answer) as server:
        outcome, elapsed, _ = _measured(lambda: _requests_get(f"{server.url}/v1/calls/x", made_by))
    assert isinstance(outcome, requests.Timeout), outcome
    assert TIMEOUT <= elapsed < TIMEOUT + SLACK


@pytest.mark.parametrize("made_by", SESSIONS)
def test_requests_follow_no_redirect(made_by: str) -> None:
    with RawServer(redirect) as server:
        outcome = _requests_get(f"{server.url}/v1/calls/x", made_by)
    assert isinstance(outcome, requests.Response)
    assert outcome.status_code == 302
    assert len(server.heads) == 1


def test_requests_read_a_gzipped_answer_whole() -> None:
    with RawServer(encoded("gzip", zlib.compress(BODY, wbits=zlib.MAX_WBITS | 16))) as server:
        outcome = _requests_get(f"{server.url}/v1/calls/x")
    assert isinstance(outcome, requests.Response)
    assert outcome.content == BODY


def test_proxies_from_the_environment_keep_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx mounts a transport per proxy (none for NO_PROXY hosts): each gets the deadline."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with RawServer(drip_head) as server:
        client = Client(server.url, timeout=TIMEOUT, secrets=Secrets())
        exchange, elapsed, _ = _measured(lambda: client.request("GET", "/v1/calls/x"))
        client.close()
    assert isinstance(exchange, Exchange)
    assert exchange.error == "timed out"
    assert elapsed < TIMEOUT + SLACK


def test_the_schema_layers_sessions_honour_proxies_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`requests` looks the environment's proxies up for every request; the schema layer's sessions
    share one lookup (`ProxyLookup`) and still go through the proxy the user set, and not for a
    NO_PROXY host."""
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    target = "http://target.example.invalid:8080"
    plain = requests.Session().merge_environment_settings(f"{target}/v1/calls/a", {}, None, None, None)
    lookups: list[str] = []
    real = requests.utils.get_environ_proxies
    monkeypatch.setattr(
        requests.utils, "get_environ_proxies", lambda url, no_proxy=None: [lookups.append(url), real(url, no_proxy)][1]
    )
    shared = ProxyLookup()
    settings = []
    for path in ("/v1/calls/a", "/v1/calls/b"):
        with capped_session(shared) as session:
            settings.append(session.merge_environment_settings(f"{target}{path}", {}, None, None, None))
            local = session.merge_environment_settings(f"http://127.0.0.1:8080{path}", {}, None, None, None)
            assert "http" not in local["proxies"]
    assert [s["proxies"].get("http") for s in settings] == ["http://proxy.example.invalid:3128"] * 2
    assert settings[0] == plain  # what `requests` itself gives: the proxy, and the CA bundle the environment names
    assert lookups == ["http://target.example.invalid:8080/", "http://127.0.0.1:8080/"]


def _short_content_length(sock: socket.socket, head: bytes) -> None:
    """A POST's answer has a Content-Length that counts characters, not bytes: its last bytes stay
    on the connection, ahead of the answer to the next request there. Anything else: 200 `{}`."""
    body = '{"data": {"contact_name": "Zoë 😀"}}'.encode()
    head_of = b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    read: tuple[bytes, bytes] | None = (head, b"")
    while read is not None:
        cut = read[0].startswith(b"POST")
        sock.sendall(head_of % (b"201 Created", len(body.decode())) + body if cut else head_of % (b"200 OK", 2) + b"{}")
        read = read_head(sock)


def test_an_answer_cut_short_by_its_content_length_does_not_spoil_the_next_one() -> None:
    with RawServer(_short_content_length) as server:
        client = Client(server.url, timeout=5.0, secrets=Secrets())
        try:
            cut = client.request("POST", "/v1/calls", json_body={})
            following = client.request("GET", "/v1/calls/any")
        finally:
            client.close()
    assert cut.status == 201
    assert cut.json() is None  # judged as it came: not JSON
    assert (following.status, following.error, following.response_body) == (200, None, b"{}")


def test_connections_retired_for_answers_cut_short_are_closed_past_a_few() -> None:
    """A target that answers every request so would otherwise keep a pool, and a socket, a request."""
    pools = Pools(1.0)
    try:
        first, racing = pools.pick(racing=False), pools.pick(racing=True)
        pools.renew()
        assert not first.is_closed  # a request may still be under way on it
        for _ in range(RETIRED_POOLS):
            pools.renew()
        assert first.is_closed
        assert racing.is_closed
        assert not pools.pick(racing=False).is_closed
    finally:
        pools.close()
