"""The fixtures API (contract section 8): organisations, keys and calls in any state.

`FixturesApi` holds what its requests are, once: paths, bodies, the status each must answer and the
fields its answer must hold. What sends them is given to it: the suite's client (counted, paced and
recorded like every request of the run: `conformance.target.environment`), or plain httpx for tests
and the SDK (`FixturesClient`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from conformance.contract.model import SCOPES

__all__ = ["FixturesApi", "FixturesClient", "FixturesRefused", "SeededOrg"]

ALL_SCOPES = SCOPES  # the contract model's


A = TypeVar("A")
# Sends one request: (path, JSON body or None, the status it must answer, the fields its answer must hold
# as dotted paths such as `data.call_id`) -> whatever the sender makes of the answer.
Post = Callable[[str, dict[str, Any] | None, int, tuple[str, ...]], A]


class FixturesApi(Generic[A]):
    """The requests of the fixtures API, sent with `post`."""

    def __init__(self, post: Post[A]) -> None:
        self._post = post

    def org(self) -> A:
        return self._post("/_fixtures/orgs", None, 201, ("org_id", "webhook_token"))

    def key(self, org_id: str | None, scopes: tuple[str, ...] = ALL_SCOPES, *, revoked: bool = False) -> A:
        body = {"scopes": list(scopes), "revoked": revoked}
        return self._post(f"/_fixtures/orgs/{org_id}/keys", body, 201, ("api_key",))

    def call(self, org_id: str | None, status: str, fields: Mapping[str, Any]) -> A:
        return self._post("/_fixtures/calls", {"org_id": org_id, "status": status, **fields}, 201, ("data.call_id",))

    def advance(self, call_id: str, status: str) -> A:
        return self._post(f"/_fixtures/calls/{call_id}/status", {"status": status}, 200, ())

    def reset(self) -> A:
        return self._post("/_fixtures/reset", None, 204, ())


@dataclass(frozen=True)
class SeededOrg:
    org_id: str
    webhook_token: str = field(repr=False)


class FixturesRefused(RuntimeError):
    """The fixtures API did not answer as expected; `status` and `detail` say what it answered."""

    def __init__(self, path: str, expect: int, response: httpx.Response) -> None:
        super().__init__(f"POST {path} answered {response.status_code}, expected {expect}")
        self.status = response.status_code
        try:
            error = response.json()["error"]
            self.detail = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            self.detail = response.text[:200]


class FixturesClient:
    """Talks to `/_fixtures` on `http` (an httpx client whose base URL is the target)."""

    def __init__(self, http: httpx.Client, token: str) -> None:
        self.http = http
        self.headers = {"x-fixtures-token": token}
        self.api = FixturesApi(self._post)

    def __repr__(self) -> str:
        return f"FixturesClient({self.http.base_url!s})"  # not the token

    def _post(self, path: str, body: dict[str, Any] | None, expect: int, fields: tuple[str, ...] = ()) -> Any:
        response = self.http.post(path, json=body, headers=self.headers)
        if response.status_code != expect:
            raise FixturesRefused(path, expect, response)
        return response.json() if response.content else None

    def org(self) -> SeededOrg:
        body = self.api.org()
        return SeededOrg(body["org_id"], body["webhook_token"])

    def key(self, org: SeededOrg, scopes: tuple[str, ...] = ALL_SCOPES, *, revoked: bool = False) -> str:
        body = self.api.key(org.org_id, scopes, revoked=revoked)
        return str(body["api_key"])

    def call(self, org: SeededOrg, status: str, **fields: Any) -> dict[str, Any]:
        body = self.api.call(org.org_id, status, fields)
        return dict(body["data"])

    def advance(self, call_id: str, status: str) -> dict[str, Any]:
        body = self.api.advance(call_id, status)
        return dict(body["data"])

    def reset(self) -> None:
        self.api.reset()
