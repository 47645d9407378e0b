"""The context every check runs with: the client, the environment, the results, the run's settings
and the PII of deleted calls. `ctx.expect(...)` counts a check of a requirement, with the dimensions
of the exchanges it was judged on (`conformance.layers.dimensions`), and when it does not hold,
records a failure with the exchanges that show it (and their reproduction): a MUST failure raises
(the check stops there), a SHOULD failure is recorded and the check goes on.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from conformance.config import SuiteConfig
from conformance.contract.requirements import by_id
from conformance.errors import Failure
from conformance.http.client import Client, Exchange
from conformance.layers import reproduction
from conformance.layers.dimensions import Coverage
from conformance.layers.replay_line import replay_command
from conformance.layers.results import Results
from conformance.target.environment import Environment

__all__ = ["Context", "answered"]


def answered(exchange: Exchange, statuses: Collection[int], code: str | None) -> str:
    """What came back, for a message that expected one of `statuses` with the error `code`: the status
    expected without a code says the code is missing (never `expected 404 NOT_FOUND, got 404`)."""
    got = exchange.outcome()
    if code is not None and exchange.status in statuses and not exchange.error_code:
        got += " with no error code (the envelope's error.code is missing)"
    return got


@dataclass
class Context:
    client: Client
    env: Environment
    results: Results
    config: SuiteConfig
    _deferred: list[Failure] | None = None
    raised: list[Failure] = field(default_factory=list)  # every MUST failure `expect` raised, in order
    replay: str = ""  # the command that runs this run again (`conformance.layers.replay_line`)
    prepared: dict[str, Any] = field(default_factory=dict)  # check name -> what it set up early (`checks.prepares`)
    coverage: Coverage = field(init=False)  # the dimension values of every exchange (its `observe`: the client's first)

    def __post_init__(self) -> None:
        self.coverage = Coverage(self.env)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """MUST failures inside are recorded and the block goes on; the first is raised at its end.

        For checks whose later requirements must still be judged when an earlier one fails.
        """
        outer, self._deferred = self._deferred, []
        try:
            yield
        finally:
            found, self._deferred = self._deferred, outer
        if found:
            raise found[0]

    def count(self, requirement: str, exchanges: Iterable[Exchange]) -> None:
        """One check of `requirement`, judged on `exchanges`: their dimensions are what it covered."""
        self.results.check(requirement)
        for exchange in exchanges:
            self.results.cover(requirement, self.coverage.values(exchange))

    def expect(self, requirement: str, ok: bool, title: str, *exchanges: Exchange) -> bool:
        self.count(requirement, exchanges)
        if ok:
            return True
        if by_id(requirement).level == "MUST" and self._deferred is None:
            self.raised.append(Failure(requirement, title, exchanges))
            raise self.raised[-1]
        failure = Failure(requirement, title, exchanges)
        if self._deferred is not None and by_id(requirement).level == "MUST":
            self._deferred.append(failure)  # raised when the block ends; recording it twice is harmless
        self.record(failure)
        return False

    def expect_answer(
        self,
        requirement: str,
        exchange: Exchange,
        statuses: Iterable[int],
        code: str | None = None,
        what: str = "",
    ) -> bool:
        """Expect one of `statuses` (and the error `code`, if given) from `exchange`."""
        allowed = set(statuses)
        ok = exchange.status in allowed and (code is None or exchange.error_code == code)
        want = "/".join(map(str, sorted(allowed))) + (f" {code}" if code else "")
        where = f"{what}: " if what else ""
        title = f"{where}{exchange.method} expected {want}, got {answered(exchange, allowed, code)}"
        return self.expect(requirement, ok, title, exchange)

    def begin(self, check: str, requirements: tuple[str, ...]) -> None:
        """A check begins: the calls it creates are for it, and its reproductions hold its requests only."""
        self.env.ledger.activity = (check, requirements)
        self.client.history.start()

    def reproduction(self, exchanges: Sequence[Exchange], title: str = "") -> str:
        """Every request of the check on the calls `exchanges` (or the failure's `title`) name, up to
        them (see `conformance.layers.reproduction`)."""
        ids = reproduction.mentioned(exchanges, self.env.created, title)
        setup = [self.env.setup[c] for c in ids if c in self.env.setup]
        steps = reproduction.choose(self.client.history.sent(), exchanges, ids, setup)
        return reproduction.render(steps, self.client.secrets, self.replay or replay_command(self.config))

    def record(self, failure: Failure) -> None:
        message = self.client.secrets.redact(failure.title)
        if self.results.keeps(failure.requirement, message):  # else the reproduction is not worth its search
            self.results.fail(failure.requirement, message, self.reproduction(failure.exchanges, failure.title))

    def describe(self, failure: Failure) -> str:
        """The failure as the terminal shows it: requirement, title and reproduction, redacted."""
        title = self.client.secrets.redact(failure.title)
        return f"[{failure.requirement}] {title}\n{self.reproduction(failure.exchanges, failure.title)}"
