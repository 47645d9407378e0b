"""A client of the fixtures API (contract section 8): seeds organisations, keys and calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["FixturesClient", "FixturesRefused", "SeededOrg"]

ALL_SCOPES = ("calls:create", "calls:read", "calls:cancel", "calls:delete")


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

    def __repr__(self) -> str:
        return f"FixturesClient({self.http.base_url!s})"  # not the token

    def _post(self, path: str, body: dict[str, Any] | None = None, expect: int = 201) -> Any:
        response = self.http.post(path, json=body, headers=self.headers)
        if response.status_code != expect:
            raise FixturesRefused(path, expect, response)
        return response.json() if response.content else None

    def org(self) -> SeededOrg:
        body = self._post("/_fixtures/orgs")
        return SeededOrg(body["org_id"], body["webhook_token"])

    def key(self, org: SeededOrg, scopes: tuple[str, ...] = ALL_SCOPES, *, revoked: bool = False) -> str:
        body = self._post(f"/_fixtures/orgs/{org.org_id}/keys", {"scopes": list(scopes), "revoked": revoked})
        return str(body["api_key"])

    def call(self, org: SeededOrg, status: str, **fields: Any) -> dict[str, Any]:
        body = self._post("/_fixtures/calls", {"org_id": org.org_id, "status": status, **fields})
        return dict(body["data"])

    def advance(self, call_id: str, status: str) -> dict[str, Any]:
        body = self._post(f"/_fixtures/calls/{call_id}/status", {"status": status}, expect=200)
        return dict(body["data"])

    def reset(self) -> None:
        self._post("/_fixtures/reset", expect=204)
