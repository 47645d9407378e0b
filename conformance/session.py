"""One run of the suite against one target: open it, hand out its context, close it."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace

from . import universal
from .checks import Context
from .client import Client, check_reachable
from .config import SuiteConfig
from .environment import Environment
from .mock import MockConfig, MockServer
from .redaction import Secrets
from .results import Results

__all__ = ["SuiteSession"]


@dataclass
class SuiteSession:
    config: SuiteConfig
    target: str
    ctx: Context
    mock: MockServer | None = None
    started: float = field(default_factory=time.monotonic)
    suite_errors: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, config: SuiteConfig) -> SuiteSession:
        """Start the bundled mock if no target is given, check the target answers, provision."""
        mock = None
        if config.embedded:
            token = secrets.token_urlsafe(24)
            mock = MockServer(MockConfig(fixtures_token=token)).start()
            config = replace(config, target_url=mock.url, fixtures_token=token)
        assert config.target_url is not None
        store = Secrets()
        client = Client(config.target_url, timeout=config.timeout, secrets=store)
        try:
            check_reachable(config.target_url, config.timeout)
            env = Environment(client, config, store)
        except BaseException:
            client.close()
            if mock is not None:
                mock.stop()
            raise
        ctx = Context(client, env, Results(), config)
        universal.watch(ctx)
        return cls(config, config.target_url, ctx, mock)

    @property
    def duration(self) -> float:
        return time.monotonic() - self.started

    def close(self) -> None:
        self.ctx.client.close()
        if self.mock is not None:
            self.mock.stop()
