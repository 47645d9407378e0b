"""Shared fixtures: an in-process app for fast rule tests, a real uvicorn mock for the rest."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from helpers import Tenant
from starlette.testclient import TestClient

from conformance.mock import MockConfig, MockServer, create_app
from conformance.target.fixtures_client import FixturesClient

FIXTURES_TOKEN = "fixtures-" + secrets.token_urlsafe(16)


@pytest.fixture
def client() -> Iterator[TestClient]:
    """In-process (ASGI) client of a fresh mock; server exceptions propagate into the test."""
    with TestClient(create_app(MockConfig(fixtures_token=FIXTURES_TOKEN))) as test_client:
        yield test_client


@pytest.fixture
def fixtures(client: TestClient) -> FixturesClient:
    return FixturesClient(client, FIXTURES_TOKEN)


@pytest.fixture
def tenant(fixtures: FixturesClient) -> Tenant:
    org = fixtures.org()
    return Tenant(org, fixtures.key(org))


@pytest.fixture
def other_tenant(fixtures: FixturesClient) -> Tenant:
    org = fixtures.org()
    return Tenant(org, fixtures.key(org))


@pytest.fixture(scope="session")
def mock_server() -> Iterator[MockServer]:
    """A real uvicorn serving the mock on a free loopback port, for the whole session."""
    with MockServer(MockConfig(fixtures_token=FIXTURES_TOKEN)) as server:
        yield server


@pytest.fixture(scope="module")
def live(mock_server: MockServer) -> Iterator[httpx.Client]:
    """An httpx client of the real server, one per module (each client loads the CA bundle, ~30 ms)."""
    with httpx.Client(base_url=mock_server.url, timeout=10) as http:
        yield http


@pytest.fixture
def live_fixtures(live: httpx.Client) -> FixturesClient:
    return FixturesClient(live, FIXTURES_TOKEN)


@pytest.fixture
def live_tenant(live_fixtures: FixturesClient) -> Tenant:
    org = live_fixtures.org()
    return Tenant(org, live_fixtures.key(org))
