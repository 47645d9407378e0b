"""`--latency MS`: every answer of the mock comes MS late, and waiting blocks no other request.

Against a real uvicorn (`MockServer`), since what matters is the event loop: a blocking delay
would serialise concurrent requests, a non-blocking one overlaps them.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import FIXTURES_TOKEN

import conformance.mock.server
from conformance.cli import main
from conformance.mock import MockConfig, MockServer

LATENCY_MS = 100
CONCURRENT = 20
USAGE_ERROR = 4


@pytest.fixture(scope="module")
def slow_mock() -> Iterator[MockServer]:
    with MockServer(MockConfig(fixtures_token=FIXTURES_TOKEN, latency_ms=LATENCY_MS)) as server:
        yield server


def _timed(method: str, url: str, headers: dict[str, str]) -> tuple[int, float]:
    started = time.perf_counter()
    status = httpx.request(method, url, headers=headers).status_code
    return status, time.perf_counter() - started


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/v1/calls/x", {}, 401),
        ("POST", "/_fixtures/orgs", {"x-fixtures-token": FIXTURES_TOKEN}, 201),
        ("GET", "/no/such/route", {}, 404),
    ],
    ids=["public API", "fixtures API", "unknown route"],
)
def test_every_answer_takes_at_least_the_latency(
    slow_mock: MockServer, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    got, seconds = _timed(method, slow_mock.url + path, headers=headers)
    assert got == status
    assert seconds >= LATENCY_MS / 1000


def test_concurrent_requests_wait_side_by_side(slow_mock: MockServer) -> None:
    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=CONCURRENT)
        async with httpx.AsyncClient(base_url=slow_mock.url, limits=limits) as http:
            answers = await asyncio.gather(*(http.get(f"/v1/calls/{n}") for n in range(CONCURRENT)))
        return [answer.status_code for answer in answers]

    started = time.perf_counter()
    statuses = asyncio.run(burst())
    seconds = time.perf_counter() - started
    assert statuses == [401] * CONCURRENT
    assert LATENCY_MS / 1000 <= seconds < CONCURRENT * LATENCY_MS / 1000 / 2, f"{seconds:.2f} s: the delay blocks"


@pytest.mark.parametrize("value", ["-1", "10001", "abc", "nan", "inf", ""])
def test_latency_out_of_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setattr(conformance.mock.server, "serve", lambda *a, **k: pytest.fail("served"))
    assert main(["mock", "--latency", value]) == USAGE_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1
    assert "--latency" in lines[0]
    assert "from 0 to 10000" in lines[0]


def test_latency_reaches_the_mock_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[MockConfig] = []

    def serve(config: MockConfig, sock: socket.socket, **kwargs: object) -> None:
        seen.append(config)
        sock.close()

    monkeypatch.setattr(conformance.mock.server, "serve", serve)
    assert main(["mock", "--port", "0", "--latency", "2.5", "--no-demo"]) == 0
    assert seen[0].latency_ms == 2.5
