"""The suite's settings: built once from options and the environment, then frozen.

Built from the options' values by name (declared in `conformance.run.options`, which applies their
environment variables) and the environment's credentials, once a process: the CLI builds it and
hands it to the plugin, a raw pytest run's plugin builds it; then it goes to whatever needs it.
"""

from __future__ import annotations

import inspect
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from conformance.errors import UsageError

__all__ = [
    "BUDGETS",
    "DEFAULT_SEED",
    "REQUEST_CAPS",
    "SEEDERS",
    "Budget",
    "Credentials",
    "SuiteConfig",
    "build_config",
    "config_from",
    "hide_userinfo",
]

DEFAULT_SEED = 20261201
Breadth = Literal["every", "sample"]
DEFAULT_REMOTE_RATE = 60.0  # requests a minute, the contract's limit per key (section 7)
SEEDERS = ("fixtures", "api", "pool")
DEFAULT_WAIT_COMPLETED = 60.0
DEFAULT_AGENT_ID = "agent_conformance"


@dataclass(frozen=True)
class Budget:
    """How hard each layer tries. Request counts grow linearly with these numbers."""

    name: str
    schema_examples: int  # hypothesis examples per operation, positive and negative each (sampled: in all)
    stateful_scenarios: int  # schemathesis link-following scenarios
    lifecycle_examples: int  # model-based state machine runs
    lifecycle_steps: int  # steps per run
    concurrency: int  # parallel deletes of one call
    odd_ids: int  # adversarial id variants per call (sampled: one of each kind instead)
    shrink_seconds: int  # how long a failing lifecycle run may be shrunk against the target (0: not at all)
    # "every": each check tries every combination it has (states, operations, credentials,
    # transports, coverage cases); "sample": one representative of each kind, drawn by the seed.
    breadth: Breadth = "every"
    stateful_steps: int = 0  # steps per schemathesis scenario; 0: schemathesis' own default (6)
    # How long after a delete or cancel the suite looks again (caches, replicas, background jobs,
    # response caches of repeats): one pause a run, measured from the first of them (docs/verdict.md).
    pause_seconds: float = 1.2


BUDGETS = {
    # Every MUST in at most 300 requests, clean-up included (five minutes at 60/min). One lifecycle
    # run only: the first is hypothesis' simplest, and the calls a second one leaves cost the clean-up.
    "smoke": Budget("smoke", 1, 1, 1, 5, 3, 9, 0, breadth="sample", stateful_steps=3),
    "quick": Budget("quick", 5, 5, 5, 15, 10, 12, 10),
    "default": Budget("default", 20, 20, 20, 30, 20, 24, 30),
    "thorough": Budget("thorough", 80, 60, 60, 50, 50, 48, 120, pause_seconds=3.0),
}
# How many requests each budget may send. A run that reaches its cap stops sending: what is left
# is "not exercised". Against the bundled mock each stays well under its cap (the README's table).
REQUEST_CAPS = {"smoke": 300, "quick": 2000, "default": 5000, "thorough": 15000}


@dataclass(frozen=True)
class Credentials:
    """Credentials from the environment, for a target without the fixtures API."""

    # Secrets: kept out of repr, which pytest prints in tracebacks.
    api_key: str | None = field(default=None, repr=False)  # organisation A, every scope
    # organisation A, exactly calls:create and calls:read (so neither calls:cancel nor calls:delete)
    api_key_limited: str | None = field(default=None, repr=False)
    api_key_revoked: str | None = field(default=None, repr=False)  # organisation A, revoked
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
            api_key_revoked=get("HUSKY_API_KEY_REVOKED"),
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
    max_requests: int = 0  # the request budget of the run: 0 is none (see `REQUEST_CAPS`)
    rate_limit: float | None = None  # requests a minute the client sends at most; None: unpaced
    allow_destructive: bool = False
    isolated_target: bool = False  # the user says the target holds no call but the suite's
    dry_run: bool = False
    seeder: str = "fixtures"
    pool_file: Path | None = None
    wait_completed: float = DEFAULT_WAIT_COMPLETED
    agent_id: str = DEFAULT_AGENT_ID
    cassettes: Path | None = None  # record the targeted properties there (or, with `replay`, replay them)
    replay: bool = False

    @property
    def embedded(self) -> bool:
        return self.target_url is None

    @property
    def loopback(self) -> bool:
        return self.target_url is None or is_loopback(self.target_url)

    @property
    def destructive_allowed(self) -> bool:
        """Cancels and deletes of calls that exist: always on loopback, elsewhere only when allowed."""
        return self.loopback or self.allow_destructive

    @property
    def isolated(self) -> bool:
        """Every call the suite can reach is its own: organisations it made through the fixtures API,
        on a target that holds nothing else (the bundled mock, or `--isolated-target`). Only then
        may a cancel or delete name a truncation or an in-alphabet extension of an own id."""
        return self.fixtures_token is not None and (self.embedded or self.isolated_target)


_FIELDS = {f.name for f in fields(SuiteConfig)}


def _target(url: str | None) -> str | None:
    if url is None:
        return None
    shown = hide_userinfo(url)
    invalid = UsageError(f"--target-url must be an http(s) URL such as https://host/api, got {shown!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (ValueError unless the port is a number from 0 to 65535)
    except ValueError:  # that, or a malformed IPv6 address
        raise invalid from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid
    if "@" in parts.netloc:
        # Refused, not stripped: httpx would turn it into Basic auth on every request (the contract's
        # own auth checks would fail for it), and a gateway that needs it cannot be served anyway.
        raise UsageError(
            f"--target-url must not hold a user or password (got {shown!r}); the suite authenticates with"
            " HUSKY_API_KEY and --fixtures-token, never with credentials in the URL"
        )
    if parts.query or parts.fragment:
        raise UsageError(f"--target-url takes no query or fragment, got {shown!r}")
    return url.rstrip("/")


def hide_userinfo(url: str) -> str:
    """`url` with any `user:password@` replaced by `[REDACTED]@` (the URL need not be valid)."""
    return _USERINFO.sub(r"\1[REDACTED]@", url)


_USERINFO = re.compile(r"(//).*@", re.DOTALL)  # to the last @: a password may hold @, / or # unencoded


def _report_dir(text: str) -> Path:
    """The report directory, checked before anything is sent: a directory, or one that can be made."""
    path = Path(text)
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if existing.exists() and not existing.is_dir():
        what = "is a file" if existing == path else f"is inside {existing}, which is a file"
        raise UsageError(f"--report-dir {text} {what}; name a directory (it is made if missing)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--report-dir {text}: {existing} is not writable; name a directory you can write to")
    return path


# Option names (`conformance.run.options`) whose config parameter is named otherwise.
RENAMED = {"conformance_strict": "strict", "request_timeout": "timeout"}


def config_from(values: Mapping[str, Any], env: Mapping[str, str]) -> SuiteConfig:
    """The config from the options' values by name (`conformance.run.options.suite_config`): those
    `build_config` takes, checked there; as given, those that are a field of `SuiteConfig` it does
    not take; the others (`-k`, `--workers`, ...) are not the config's."""
    wanted = set(inspect.signature(build_config).parameters) - {"env"}
    named = {RENAMED.get(name, name): value for name, value in values.items()}
    config = build_config(env=env, **{name: value for name, value in named.items() if name in wanted})
    plain = {name: value for name, value in named.items() if name in _FIELDS and name not in wanted}
    return replace(config, **plain) if plain else config


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
    rate_limit: str | None = None,
    allow_destructive: bool = False,
    isolated_target: bool = False,
    dry_run: bool = False,
    seeder: str | None = None,
    pool_file: str | None = None,
    wait_completed: float | None = None,
    agent_id: str | None = None,
    cassettes: str | None = None,
    replay: bool = False,
    max_requests: int | None = None,
) -> SuiteConfig:
    if replay:  # the fixtures token and the credentials are the recording's placeholders (`run_environment`)
        if cassettes is None or target_url is None:
            raise UsageError(
                "--replay needs --cassettes DIR and the recorded --target-url ('husky-conformance replay')"
            )
        rate_limit = "off"
    if not 0 < timeout < math.inf:  # also refuses NaN
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout}")
    target = _target(target_url)
    token = fixtures_token or None  # HUSKY_FIXTURES_TOKEN: `conformance.run.options.resolve`
    profile, cap = resolve_budget(budget)
    return SuiteConfig(
        target_url=target,
        fixtures_token=token,
        report_dir=_report_dir(report_dir),
        seed=DEFAULT_SEED if seed is None else seed,
        budget=profile,
        strict=strict,
        timeout=timeout,
        credentials=Credentials.from_env(env),
        max_requests=cap if max_requests is None else max_requests,
        rate_limit=parse_rate(rate_limit, target),
        allow_destructive=allow_destructive,
        isolated_target=isolated_target,
        dry_run=dry_run,
        seeder=_seeder(seeder, token, target, pool_file),
        pool_file=Path(pool_file) if pool_file else None,
        wait_completed=_wait_completed(wait_completed, seeder),
        agent_id=agent_id or DEFAULT_AGENT_ID,
        cassettes=Path(cassettes) if cassettes else None,
        replay=replay,
    )


def _wait_completed(seconds: float | None, seeder: str | None) -> float:
    if seconds is None:  # the api seeder waits when asked for by name; the implicit one does not
        return DEFAULT_WAIT_COMPLETED if seeder == "api" else 0.0
    if not 0 <= seconds < math.inf:
        raise UsageError(f"--wait-completed must be a number of seconds, got {seconds}")
    return seconds


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "localhost" or host.startswith("127.") or host == "::1"


def parse_rate(text: str | None, target: str | None) -> float | None:
    """`--rate-limit`: `N/min` (or `N`), `off`; by default 60/min, except on loopback: unpaced."""
    if text is None:
        return None if target is None or is_loopback(target) else DEFAULT_REMOTE_RATE
    if text.lower() in ("off", "none", "0"):
        return None
    number = text.lower().removesuffix("/min")
    try:
        rate = float(number)
    except ValueError:
        rate = math.nan
    if not 0 < rate < math.inf:
        raise UsageError(f"--rate-limit takes requests a minute such as 60/min, or off; got {text!r}")
    return rate


def resolve_budget(text: str) -> tuple[Budget, int]:
    """`--budget NAME` (its request cap) or `--budget N` (the largest profile whose cap fits N, capped at N)."""
    if text in BUDGETS:
        return BUDGETS[text], REQUEST_CAPS[text]
    if text.isdigit() and int(text) > 0:
        cap = int(text)
        by_cap = sorted(BUDGETS, key=REQUEST_CAPS.__getitem__)
        fitting = [name for name in by_cap if REQUEST_CAPS[name] <= cap] or by_cap[:1]
        return BUDGETS[fitting[-1]], cap
    names = ", ".join(f"{n} ({REQUEST_CAPS[n]} requests)" for n in REQUEST_CAPS)
    raise UsageError(f"--budget takes {names}, or a number of requests; got {text!r}")


def _seeder(name: str | None, token: str | None, target: str | None, pool_file: str | None) -> str:
    if name is None:
        return "fixtures" if token or target is None else ("pool" if pool_file else "api")
    if name not in SEEDERS:
        raise UsageError(f"--seeder must be one of {', '.join(SEEDERS)}, got {name!r}")
    if name == "fixtures" and not token and target is not None:
        raise UsageError("--seeder fixtures needs --fixtures-token (or HUSKY_FIXTURES_TOKEN); or use --seeder api")
    if name == "pool" and not pool_file:
        raise UsageError("--seeder pool needs --pool FILE: one completed call id a line")
    if pool_file and not Path(pool_file).is_file():
        raise UsageError(f"--pool {pool_file}: no such file")
    return name
