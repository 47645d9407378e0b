"""Small shared helpers of the tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from conformance.config import build_config
from conformance.errors import Failure
from conformance.http.client import Client
from conformance.http.redaction import Secrets
from conformance.layers.checks import CHECKS
from conformance.layers.context import Context
from conformance.layers.results import Results
from conformance.mock import MockServer
from conformance.run.session import SuiteSession
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


@contextmanager
def suite_on(server: MockServer, report_dir: Path) -> Iterator[SuiteSession]:
    """A suite session at the quick budget (breadth "every") on a mock served in this process (so
    that a test may break its rules), isolated as on the bundled mock."""
    config = build_config(
        target_url=server.url,
        fixtures_token=server.config.fixtures_token,
        report_dir=str(report_dir),
        seed=None,
        budget="quick",
        strict=False,
        timeout=5.0,
        env={},
        isolated_target=True,
    )
    suite = SuiteSession.open(config)
    try:
        yield suite
    finally:
        suite.close()


def run_check(suite: SuiteSession, name: str) -> dict[str, list[str]]:
    """Run one registered check as the plugin does; every failure of the session so far, by requirement."""
    found = CHECKS[name]
    suite.ctx.begin(found.name, found.requirements)
    try:
        found.run(suite.ctx)
    except Failure as failure:
        suite.ctx.record(failure)
    return {r: [f.message for f in records] for r, records in suite.ctx.results.failures.items()}
