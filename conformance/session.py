"""One run of the suite against one target: open it, hand out its context, clean up, close it."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any

from . import universal
from .checks import Context
from .client import Client, probe
from .config import SuiteConfig
from .environment import Environment
from .ledger import CleanUp, clean_up
from .mock import MockConfig, MockServer
from .redaction import Secrets
from .results import Results

__all__ = ["SuiteSession"]

MAX_CLEANUP_COST = 3  # requests the clean-up needs for one call at most: GET, a fixtures move, delete


@dataclass
class SuiteSession:
    config: SuiteConfig
    target: str
    ctx: Context
    mock: MockServer | None = None
    started: float = field(default_factory=time.monotonic)
    suite_errors: list[str] = field(default_factory=list)
    cleanup: CleanUp | None = None
    items: list[dict[str, Any]] = field(default_factory=list)  # each check that ran: layer, name, outcome, requests
    planned: SuiteConfig | None = None  # a dry run: the config of the run it plans (the mock stands in)

    @classmethod
    def open(cls, config: SuiteConfig) -> SuiteSession:
        """Start the bundled mock if no target is given, check the target answers, provision.

        A dry run sends nothing to the target: it runs against the bundled mock, with the target's
        rules on destructive requests, and reports what it did as the plan.
        """
        planned = config if config.dry_run else None
        mock = None
        if config.embedded or config.dry_run:
            token = secrets.token_urlsafe(24)
            mock = MockServer(MockConfig(fixtures_token=token)).start()
            config = replace(config, target_url=mock.url, fixtures_token=token, seeder="fixtures", isolated_target=True)
            config = replace(config, rate_limit=None) if planned else config  # a plan is not paced
        assert config.target_url is not None
        store = Secrets()
        client = Client(
            config.target_url,
            timeout=config.timeout,
            secrets=store,
            rate_limit=config.rate_limit,
            max_requests=config.max_requests,
        )
        try:
            probe(client)
            env = Environment(client, config, store)
        except BaseException:
            client.close()
            if mock is not None:
                mock.stop()
            raise
        if planned is not None:
            env.guard.destructive_allowed = planned.destructive_allowed
            env.guard.isolated = planned.isolated
        _watch(client, env)
        ctx = Context(client, env, Results(), config)
        universal.watch(ctx)
        return cls(config, (planned or config).target_url or config.target_url, ctx, mock, planned=planned)

    @property
    def duration(self) -> float:
        return time.monotonic() - self.started

    def clean_up(self) -> None:
        """Cancel and delete what the suite created, through the public API (not in a dry run)."""
        if self.planned is None:
            self.ctx.env.ledger.activity = ("cleanup", ())
            self.ctx.client.cleaning = True
            self.cleanup = clean_up(self.ctx.env)

    def close(self) -> None:
        self.ctx.client.close()
        if self.mock is not None:
            self.mock.stop()


def _watch(client: Client, env: Environment) -> None:
    """The client asks the guard before each request, keeps back the clean-up's requests, reads lost ones back."""
    ledger = env.ledger
    client.gate = lambda method, path, body, cleanup: env.guard.check(method, path, body, cleanup=cleanup)
    client.on_lost = env.read_back
    client.observers += [env.observe, ledger.observe]

    def reserved() -> int:
        if client.requests + MAX_CLEANUP_COST * len(ledger.entries) < client.max_requests:
            return 0  # cheap: even if every call needed cleaning up, it would fit
        return ledger.cleanup_cost()

    client.reserved = reserved
