"""Testing an SDK against the mock: `HuskyMock`, what the pytest fixture `husky_mock` hands a test.

The plugin registers `husky_mock` (session-scoped): one mock on a free loopback port for the whole
test session (one per worker under pytest-xdist), stopped when the session ends. Tests are kept
apart by organisation, not by resetting the mock: each test makes its own with `new_org()`, and
an organisation sees only its own calls (the contract's tenant isolation), so tests cannot see
each other's calls, whatever their order, and nothing has to be cleaned up. Faults are the one
thing every organisation shares: `faults(...)` switches them on for the `with` block only.

Outside pytest, `with HuskyMock() as mock:` does the same.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from conformance.mock.config import MockConfig
from conformance.mock.faults import FAULTS, unknown_faults
from conformance.mock.fixtures_api import SEED_FIELDS
from conformance.mock.server import MockServer
from conformance.mock.store import STATUSES
from conformance.target.fixtures_client import ALL_SCOPES, FixturesClient, FixturesRefused, SeededOrg

__all__ = ["SCOPES", "STATUSES", "HuskyMock", "MockOrg"]

SCOPES = ALL_SCOPES  # every scope a key can hold


@dataclass(frozen=True)
class MockOrg:
    """An organisation of the mock, with one API key (`api_key`, holding `scopes`) and its webhook."""

    org_id: str
    api_key: str = field(repr=False)
    webhook_token: str = field(repr=False)
    webhook_url: str = field(repr=False)  # POST a webhook request here
    scopes: tuple[str, ...] = SCOPES


def _listing(kind: str, unknown: Iterable[str], valid: Iterable[str], kinds: str = "") -> str:
    """`unknown scope 'calls:write'; valid scopes: calls:create, ...`: one line."""
    names = ", ".join(repr(name) for name in unknown)
    return f"unknown {kind} {names}; valid {kinds or kind + 's'}: {', '.join(valid)}"


def _scopes(scopes: str | Iterable[str]) -> tuple[str, ...]:
    """The scopes, checked; one scope may be given as a plain string."""
    wanted = (scopes,) if isinstance(scopes, str) else tuple(dict.fromkeys(scopes))
    unknown = [scope for scope in wanted if scope not in SCOPES]
    if unknown:
        raise ValueError(_listing("scope", unknown, SCOPES))
    return wanted


def _call_id(call: str | Mapping[str, Any]) -> str:
    return call if isinstance(call, str) else str(call["call_id"])


class HuskyMock:
    """A HuskyVoice mock served on a free loopback port, and the means to seed and break it.

    - `url`: the base URL to point an SDK at.
    - `new_org(scopes=...)`: a fresh organisation with a key holding those scopes (all by default).
    - `new_key(org, scopes=..., revoked=False)`: another key of that organisation.
    - `seed_call(org, status, **fields)`: a call in any state, as the API renders it (`GET`'s `data`).
    - `advance(call, status)`: move a call forward, as telephony would.
    - `faults(*names)`: a context manager; inside it the mock breaks those rules of the contract
      (`husky-conformance mock --list-faults` lists them), to test an SDK's error handling.
    """

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self._token = secrets.token_urlsafe(24)
        self._server = MockServer(MockConfig(fixtures_token=self._token), host=host)
        self._http = httpx.Client(base_url=self._server.url, trust_env=False)
        self._fixtures = FixturesClient(self._http, self._token)

    def __repr__(self) -> str:
        return f"HuskyMock({self.url})"  # not the fixtures token

    @property
    def url(self) -> str:
        """The mock's base URL, such as `http://127.0.0.1:53817` (no trailing slash)."""
        return self._server.url

    def start(self) -> HuskyMock:
        self._server.start()
        return self

    def stop(self) -> None:
        self._http.close()
        self._server.stop()

    def __enter__(self) -> HuskyMock:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- seeding ----------------------------------------------------------------------------------

    @contextmanager
    def _refusal(self, what: str) -> Iterator[None]:
        """A refusal of the fixtures API as the one-line error a test reads: what the mock answered."""
        try:
            yield
        except FixturesRefused as refused:
            raise ValueError(f"{what}: the mock refused it ({refused.status} {refused.detail})") from None

    def new_org(self, scopes: str | Iterable[str] = SCOPES) -> MockOrg:
        """A new organisation, of this test alone, whose `api_key` holds `scopes` (default: all)."""
        wanted = _scopes(scopes)
        with self._refusal("new_org"):
            org = self._fixtures.org()
            key = self._fixtures.key(org, wanted)
        return MockOrg(org.org_id, key, org.webhook_token, f"{self.url}/v1/hooks/{org.webhook_token}", wanted)

    def new_key(self, org: MockOrg, scopes: str | Iterable[str] = SCOPES, *, revoked: bool = False) -> str:
        """Another API key of `org`, holding `scopes`; `revoked=True` gives one the API refuses (401)."""
        with self._refusal("new_key"):
            return self._fixtures.key(SeededOrg(org.org_id, org.webhook_token), _scopes(scopes), revoked=revoked)

    def seed_call(self, org: MockOrg, status: str, **fields: Any) -> dict[str, Any]:
        """A call of `org` in `status`, made directly (no create request); the call as `GET` renders it.

        `fields` may set the call's `agent_id`, `contact_number`, `contact_name`, `contact_email`,
        `additional_info`, `transcript`, `recording_url` and `duration_seconds` (the last three
        show once the call is completed).
        """
        if status not in STATUSES:
            raise ValueError(_listing("status", [status], STATUSES, "statuses"))
        unknown = [name for name in fields if name not in SEED_FIELDS]
        if unknown:
            raise ValueError(_listing("field", unknown, SEED_FIELDS))
        with self._refusal("seed_call"):
            return self._fixtures.call(SeededOrg(org.org_id, org.webhook_token), status, **fields)

    def advance(self, call: str | Mapping[str, Any], status: str) -> dict[str, Any]:
        """Move a call (its id, or the call itself) forward to `status`, as telephony would; the call then."""
        if status not in STATUSES:
            raise ValueError(_listing("status", [status], STATUSES, "statuses"))
        with self._refusal("advance"):
            return self._fixtures.advance(_call_id(call), status)

    # --- faults -----------------------------------------------------------------------------------

    @property
    def active_faults(self) -> frozenset[str]:
        """The faults switched on now (none outside a `faults(...)` block)."""
        return self._server.store.faults

    @contextmanager
    def faults(self, *names: str) -> Iterator[None]:
        """Inside the block, the mock breaks these rules of the contract, for every organisation.

        `with husky_mock.faults("text-errors"): ...` answers 404s as plain text, for instance.
        On leaving the block (even by an exception) the faults switched on before are all that is on.
        """
        if not names:
            raise ValueError(f"faults() needs at least one fault name; valid faults: {', '.join(FAULTS)}")
        unknown = unknown_faults(frozenset(names))
        if unknown:
            raise ValueError(_listing("fault", unknown, FAULTS))
        store = self._server.store
        with store.lock:
            before = store.faults
            store.faults = before | frozenset(names)
        try:
            yield
        finally:
            with store.lock:
                store.faults = before
                if not before:
                    store.tombstones.clear()  # what some faults remember of deleted calls
