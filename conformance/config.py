"""The suite's settings: built once from options and the environment, then frozen.

Nothing else reads `os.environ` or pytest's options; the plugin builds a `SuiteConfig` and hands
it to whatever needs it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import UsageError

__all__ = ["BUDGETS", "DEFAULT_SEED", "Budget", "Credentials", "SuiteConfig", "build_config", "config_from"]

DEFAULT_SEED = 20261201


@dataclass(frozen=True)
class Budget:
    """How hard each layer tries. Request counts grow linearly with these numbers."""

    name: str
    schema_examples: int  # hypothesis examples per operation, positive and negative each
    stateful_scenarios: int  # schemathesis link-following scenarios
    lifecycle_examples: int  # model-based state machine runs
    lifecycle_steps: int  # steps per run
    concurrency: int  # parallel deletes of one call
    odd_ids: int  # adversarial id variants per call
    shrink_seconds: int  # how long a failing lifecycle run may be shrunk against the target


BUDGETS = {
    "quick": Budget("quick", 5, 5, 5, 15, 10, 12, 10),
    "default": Budget("default", 20, 20, 20, 30, 20, 24, 30),
    "thorough": Budget("thorough", 80, 60, 60, 50, 50, 48, 120),
}


@dataclass(frozen=True)
class Credentials:
    """Credentials from the environment, for a target without the fixtures API."""

    # Secrets: kept out of repr, which pytest prints in tracebacks.
    api_key: str | None = field(default=None, repr=False)  # organisation A, every scope
    api_key_limited: str | None = field(default=None, repr=False)  # organisation A, no calls:delete/cancel
    api_key_b: str | None = field(default=None, repr=False)  # organisation B
    webhook_token: str | None = field(default=None, repr=False)  # organisation A
    webhook_token_b: str | None = field(default=None, repr=False)  # organisation B

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        def get(name: str) -> str | None:
            return env.get(name) or None

        return cls(
            api_key=get("HUSKY_API_KEY"),
            api_key_limited=get("HUSKY_API_KEY_LIMITED"),
            api_key_b=get("HUSKY_API_KEY_B"),
            webhook_token=get("HUSKY_WEBHOOK_TOKEN"),
            webhook_token_b=get("HUSKY_WEBHOOK_TOKEN_B"),
        )


@dataclass(frozen=True)
class SuiteConfig:
    target_url: str | None  # None: start the bundled mock and test it
    fixtures_token: str | None = field(repr=False)
    report_dir: Path
    seed: int
    budget: Budget
    strict: bool
    timeout: float
    credentials: Credentials

    @property
    def embedded(self) -> bool:
        return self.target_url is None


def _target(url: str | None) -> str | None:
    if url is None:
        return None
    invalid = UsageError(f"--target-url must be an http(s) URL such as https://host/api, got {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (ValueError unless the port is a number from 0 to 65535)
    except ValueError:  # that, or a malformed IPv6 address
        raise invalid from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid
    if parts.query or parts.fragment:
        raise UsageError(f"--target-url takes no query or fragment, got {url!r}")
    return url.rstrip("/")


def config_from(options: Any, env: Mapping[str, str]) -> SuiteConfig:
    """The config from parsed options (the CLI's or pytest's: they share these attribute names)."""
    return build_config(
        target_url=options.target_url,
        fixtures_token=options.fixtures_token,
        report_dir=options.report_dir,
        seed=options.seed,
        budget=options.budget,
        strict=options.conformance_strict,
        timeout=options.request_timeout,
        env=env,
    )


def build_config(
    *,
    target_url: str | None,
    fixtures_token: str | None,
    report_dir: str,
    seed: int | None,
    budget: str,
    strict: bool,
    timeout: float,
    env: Mapping[str, str],
) -> SuiteConfig:
    if budget not in BUDGETS:
        raise UsageError(f"--budget must be one of {', '.join(BUDGETS)}, got {budget!r}")
    if not 0 < timeout < math.inf:  # also refuses NaN
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout}")
    return SuiteConfig(
        target_url=_target(target_url),
        fixtures_token=fixtures_token or env.get("HUSKY_FIXTURES_TOKEN") or None,
        report_dir=Path(report_dir),
        seed=DEFAULT_SEED if seed is None else seed,
        budget=BUDGETS[budget],
        strict=strict,
        timeout=timeout,
        credentials=Credentials.from_env(env),
    )
