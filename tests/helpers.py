"""Small shared helpers of the tests (fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass

from conformance.config import build_config
from conformance.http.client import Client
from conformance.http.redaction import Secrets
from conformance.layers.context import Context
from conformance.layers.results import Results
from conformance.target.environment import Environment
from conformance.target.fixtures_client import SeededOrg

OFFLINE = "http://127.0.0.1:9"  # a target no test sends a request to


def offline_context(api_key: str) -> Context:
    """A context on environment credentials (`HUSKY_API_KEY`), for checks judged on exchanges made up
    by the test: building it sends no request. Close its client when done."""
    config = build_config(
        target_url=OFFLINE,
        fixtures_token=None,
        report_dir="reports",
        seed=77,
        budget="quick",
        strict=False,
        timeout=1.0,
        env={"HUSKY_API_KEY": api_key},
    )
    secrets = Secrets()
    client = Client(OFFLINE, timeout=1.0, secrets=secrets)
    return Context(client, Environment(client, config, secrets), Results(), config)


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
