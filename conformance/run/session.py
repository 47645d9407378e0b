"""One run of the suite against one target: open it, hand out its context, clean up, close it."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from conformance.config import SuiteConfig
from conformance.errors import BudgetSpent, UsageError
from conformance.http.client import Client, probe
from conformance.http.redaction import Secrets
from conformance.layers import universal
from conformance.layers.checks import head_start
from conformance.layers.context import Context
from conformance.layers.determinism import seed_case_ids
from conformance.layers.properties import routes
from conformance.layers.replay_line import replay_command
from conformance.layers.results import Results
from conformance.mock import MockConfig
from conformance.mock.child import MockProcess
from conformance.run.report_data import Shard
from conformance.target.cleanup import CleanUp, clean_up
from conformance.target.credentials_probe import planned_requests
from conformance.target.environment import Environment, Parts
from conformance.target.provisioning import provisioning_requests

__all__ = [
    "SuiteSession",
    "check_budget",
    "mock_started_early",
    "smallest_budget",
    "start_mock_early",
    "stop_early_mock",
]


@dataclass
class SuiteSession:
    config: SuiteConfig
    target: str
    ctx: Context
    mock: MockProcess | None = None
    started: float = field(default_factory=time.monotonic)
    suite_errors: list[str] = field(default_factory=list)
    cleanup: CleanUp | None = None
    items: list[dict[str, Any]] = field(default_factory=list)  # each check that ran: layer, name, outcome, requests
    planned: SuiteConfig | None = None  # a dry run: the config of the run it plans (the mock stands in)
    shard: Shard | None = None  # the slice of the suite's checks this run is (`--slice K/N`), for the report

    @classmethod
    def open(
        cls, config: SuiteConfig, *, sleep: Callable[[float], None] = time.sleep, selected: Collection[str] = ()
    ) -> SuiteSession:
        """Start the bundled mock if no target is given, check the target answers, provision, and set
        up early what the `selected` checks set up early (`checks.prepares`). `sleep`: how the client
        waits (pacing, 429s, polls); a replay waits for nothing. A dry run sends nothing to the target:
        it runs against the bundled mock, with the target's rules on destructive requests, and reports
        what it did as the plan."""
        check_budget(config)
        seed_case_ids(config.seed)
        planned = config if config.dry_run else None
        original, (config, mock) = config, _with_mock(config, planned)
        assert config.target_url is not None
        store, parts = Secrets(), Parts.of(config)
        client = Client(
            config.target_url,
            timeout=config.timeout,
            secrets=store,
            rate_limit=config.rate_limit,
            max_requests=config.max_requests,
            sleep=sleep,
            hooks=parts.hooks(),
        )
        try:
            probe(client)
            ctx = _context(Environment(client, config, store, parts), config, planned, original)
            head_start(ctx, selected)
        except BaseException as error:
            client.close()
            if mock is not None:
                mock.stop()
            if isinstance(error, BudgetSpent):  # the setup took more than counted: throttled, say
                raise UsageError(
                    f"a budget of {config.max_requests} requests was spent before the first check"
                    f" ({client.requests} to probe and provision); give a larger --budget"
                ) from None
            raise
        return cls(config, (planned or config).target_url or config.target_url, ctx, mock, planned=planned)

    @property
    def duration(self) -> float:
        return time.monotonic() - self.started

    def clean_up(self) -> None:
        """Cancel and delete what the suite created, through the public API (not in a dry run)."""
        if self.planned is None:
            self.ctx.begin("cleanup", ())
            self.ctx.client.cleaning = True
            self.cleanup = clean_up(self.ctx.env)

    def close(self) -> None:
        self.ctx.client.close()
        if self.mock is not None:
            self.mock.stop()


def _context(env: Environment, config: SuiteConfig, planned: SuiteConfig | None, original: SuiteConfig) -> Context:
    """The run's context on a provisioned environment: a plan's rules on destructive requests, and
    every answer observed from here on."""
    if planned is not None:
        env.guard.destructive_allowed = planned.destructive_allowed
        env.guard.isolated = planned.isolated
    client = env.client
    ctx = Context(client, env, Results(), config, replay=replay_command(planned or original))
    client.observers += [ctx.coverage.observe, env.observe, env.ledger.observe]  # coverage: before the ledger
    universal.watch(ctx)
    return ctx


def smallest_budget(config: SuiteConfig) -> tuple[int, str]:
    """The fewest requests a run can exercise a check with, and how that adds up: the reachability
    probe, the provisioning or the credential check (and the clean-up of its call), and the cheapest
    check (`routes_and_methods`, which makes no call, so its clean-up costs nothing). Every other
    check needs more. At this budget the checks before it are refused their first create, and it
    runs; a little above, one of them may spend the budget and be cut, and none runs to its end
    (INCOMPLETE all the same)."""
    provisioning = provisioning_requests(config)
    checking = planned_requests(config)
    cheapest = routes.requests_needed(config.budget.breadth)
    provisioned = f", {provisioning} to provision through the fixtures API" if provisioning else ""
    checked = f", {checking} to check the credentials" if checking else ""
    how = f"1 reachability probe{provisioned}{checked}, {cheapest} for the cheapest check"
    return 1 + provisioning + checking + cheapest, how


def check_budget(config: SuiteConfig) -> None:
    """UsageError, before any request, when the budget cannot hold one check."""
    smallest, how = smallest_budget(config)
    if config.max_requests and config.max_requests < smallest:
        raise UsageError(
            f"a budget of {config.max_requests} requests is too small for one check: the smallest that works"
            f" is --budget {smallest} ({how})"
        )


# The bundled mock the command line started before pytest (`mock_started_early`), until a session takes it.
_early: list[MockProcess] = []


@contextlib.contextmanager
def mock_started_early(config: SuiteConfig) -> Iterator[None]:
    """The bundled mock started now, if the run will need it, so that it starts up while pytest does (in
    a process of its own, on the other core); the run's session takes it. Stopped on the way out."""
    start_mock_early(config)
    try:
        yield
    finally:
        stop_early_mock()


def start_mock_early(config: SuiteConfig) -> None:
    """`mock_started_early`'s start, once: from the command line, or as pytest collects a run (a
    worker of `--workers`, or pytest started by hand) that the command line did not start."""
    if _needs_mock(config) and not _early:
        _early.append(_bundled_mock())


def stop_early_mock() -> None:
    """The early mock stopped, if no session took it (the run ended before it opened one)."""
    while _early:
        _early.pop().stop()


def _needs_mock(config: SuiteConfig) -> bool:
    return config.embedded or config.dry_run


def _bundled_mock() -> MockProcess:
    return MockProcess(MockConfig(fixtures_token=secrets.token_urlsafe(24))).start()


def _with_mock(config: SuiteConfig, planned: SuiteConfig | None) -> tuple[SuiteConfig, MockProcess | None]:
    """An embedded run or a plan runs against the bundled mock: the mock started (in a process of its
    own, on the other core), the config aimed at it."""
    if not _needs_mock(config):
        return config, None
    mock = _early.pop() if _early else _bundled_mock()
    token = mock.config.fixtures_token
    config = replace(config, target_url=mock.url, fixtures_token=token, seeder="fixtures", isolated_target=True)
    config = replace(config, rate_limit=None) if planned else config  # a plan is not paced
    return config, mock
