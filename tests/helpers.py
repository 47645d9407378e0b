"""Small shared helpers of the tests (fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass

from conformance.target.fixtures_client import SeededOrg


@dataclass(frozen=True)
class Tenant:
    """One seeded organisation with a full-scope key."""

    org: SeededOrg
    key: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def x_api_key(self) -> dict[str, str]:
        return {"x-api-key": self.key}

    def hook(self, token: str | None = None) -> str:
        return f"/v1/hooks/{token or self.org.webhook_token}"
