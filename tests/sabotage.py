"""A pytest plugin that breaks the suite on purpose, for the tests of exit code 3 and of redaction.

Loaded into a suite run with `-p sabotage` (the tests directory on PYTHONPATH); `SABOTAGE` says
where it strikes: `check` (every seeded call, inside the checks, from the first on), `open` (once both organisations
are provisioned, before the first check) or `report` (writing the reports). Each raises an error
whose message and local variables hold every secret of the run.
"""

from __future__ import annotations

import os
from typing import Any

from conformance.run import report
from conformance.target import environment
from conformance.target.environment import Environment

WHERE = os.environ.get("SABOTAGE", "")


def _boom(env: Environment, where: str) -> None:
    tenant, fixtures_token = env.a, env.fixtures_token  # noqa: F841  (locals a traceback could show)
    keys = [t.key for t in (env.a, env.b)] + [t.webhook_token for t in (env.a, env.b)]
    keys += [env.a.revoked_key, *env.a.keys_without.values(), fixtures_token]
    raise RuntimeError(f"sabotage in {where}: {' '.join(k for k in keys if k)} {env.a!r} {env.a.__dict__}")


def pytest_runtest_call(item: Any) -> None:
    if WHERE == "check":  # from the first check on: the run's opening seeds calls too (`checks.prepares`)
        environment.Environment.seed_call = lambda self, *args, **kwargs: _boom(self, "a check")  # type: ignore[method-assign]


def pytest_configure(config: Any) -> None:
    if WHERE == "open":
        provision = environment.provision

        def provision_then_fail(env: Environment, breadth: str = "every") -> None:
            provision(env, breadth)
            _boom(env, "the session's opening")

        environment.provision = provision_then_fail
    elif WHERE == "report":
        report.finish = lambda suite: _boom(suite.ctx.env, "the reports")  # type: ignore[assignment]
