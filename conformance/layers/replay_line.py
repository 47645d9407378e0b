"""The command line that runs a run again as it was: printed under every failure's reproduction.

It names the target, the seed, the budget and every option that changes what is sent, and the
`HUSKY_*` variables the run read its secrets from (their names, never their values).
"""

from __future__ import annotations

import shlex
from dataclasses import fields

from conformance.config import DEFAULT_AGENT_ID, REQUEST_CAPS, Credentials, SuiteConfig

__all__ = ["replay_command"]


def replay_command(config: SuiteConfig) -> str:
    """`config`'s run as a `husky-conformance run` command, with the variables it needs set."""
    words = ["husky-conformance", "run"]
    if config.target_url is not None:
        words += ["--target-url", config.target_url]
    capped = REQUEST_CAPS.get(config.budget.name) == config.max_requests
    words += ["--seed", str(config.seed), "--budget", config.budget.name if capped else str(config.max_requests)]
    words += [flag for flag, on in _switches(config) if on]
    if config.target_url is not None:
        words += _seeding(config)
    if config.agent_id != DEFAULT_AGENT_ID:
        words += ["--agent-id", config.agent_id]
    needs = _variables(config)
    return shlex.join(words) + (f"   # with {', '.join(needs)} set as for this run" if needs else "")


def _switches(config: SuiteConfig) -> list[tuple[str, bool]]:
    return [
        ("--strict", config.strict),
        ("--allow-destructive", config.allow_destructive),
        ("--isolated-target", config.isolated_target),
    ]


def _seeding(config: SuiteConfig) -> list[str]:
    words = ["--seeder", config.seeder]
    if config.seeder == "pool" and config.pool_file is not None:
        words += ["--pool", str(config.pool_file)]
    if config.seeder == "api":
        words += ["--wait-completed", f"{config.wait_completed:g}"]
    return words


def _variables(config: SuiteConfig) -> list[str]:
    """The names of the variables that held this run's secrets (`--fixtures-token` may stand for the first)."""
    found = ["HUSKY_FIXTURES_TOKEN"] if config.fixtures_token and config.target_url is not None else []
    credentials = config.credentials
    return found + [f"HUSKY_{f.name.upper()}" for f in fields(Credentials) if getattr(credentials, f.name)]
