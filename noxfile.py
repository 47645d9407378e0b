"""Every job of the project, one nox session each. Versions come from pyproject.toml."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True


@nox.session
def tests(session: nox.Session) -> None:
    """The project's own tests (unit, mock over real uvicorn, stock schemathesis), one process per core
    (`-- -n 0` for one)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-n", "auto", *session.posargs)


@nox.session
def faults(session: nox.Session) -> None:
    """The fault matrix: the whole suite against each seeded fault of the mock, two at a time."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "faults", "-n", "2", "tests/test_faults.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff format --check, ruff check and mypy."""
    session.install("-e", ".[lint]")
    session.run("ruff", "format", "--check", ".")
    session.run("ruff", "check", ".")
    session.run("mypy")


@nox.session
def conformance(session: nox.Session) -> None:
    """The main job: the suite against the bundled mock, or a target (options after --)."""
    session.install("-e", ".")
    session.run("husky-conformance", "run", *session.posargs)


STAGING_NEEDS = "HUSKY_TARGET_URL and HUSKY_API_KEY (or HUSKY_FIXTURES_TOKEN)"


@nox.session
def staging(session: nox.Session) -> None:
    """The suite against a shared target from HUSKY_* variables: paced, smoke budget (options after --)."""
    target = os.environ.get("HUSKY_TARGET_URL")
    if not target or not (os.environ.get("HUSKY_API_KEY") or os.environ.get("HUSKY_FIXTURES_TOKEN")):
        session.error(f"the staging session needs {STAGING_NEEDS}; see docs/staging.md")
    session.install("-e", ".")
    defaults = ["--target-url", target, "--report-dir", "reports/staging", "--budget", "smoke"]
    session.run("husky-conformance", "run", *defaults, *session.posargs)  # a later option wins


SHIPPED_CASSETTES = "cassettes/mock"


def _cassette_set_first(posargs: list[str]) -> list[str]:
    """The cassette set is the first argument; without one, the shipped set."""
    return posargs if posargs and not posargs[0].startswith("-") else [SHIPPED_CASSETTES, *posargs]


@nox.session
def record(session: nox.Session) -> None:
    """Record the targeted properties into cassettes/mock against the bundled mock (options after --)."""
    session.install("-e", ".")
    where = [] if "--cassettes" in session.posargs else ["--cassettes", SHIPPED_CASSETTES]
    session.run("husky-conformance", "record", *where, *session.posargs)


@nox.session
def replay(session: nox.Session) -> None:
    """Replay a cassette set offline and judge it again (default cassettes/mock; options after --)."""
    session.install("-e", ".")
    session.run("husky-conformance", "replay", *_cassette_set_first(session.posargs))


@nox.session
def drift(session: nox.Session) -> None:
    """Re-send a cassette set to a live target and show what differs (-- [DIR] --target-url URL ...)."""
    session.install("-e", ".")
    session.run("husky-conformance", "drift", *_cassette_set_first(session.posargs))


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not part of CI's test run); their figures go into docs/performance.md."""
    session.install("-e", ".")
    session.run("python", "benchmarks/suite_duration.py", *session.posargs)
    session.run("python", "benchmarks/suite_overhead.py")  # the suite's request rate versus a plain httpx loop
    session.run("python", "benchmarks/generation_floor.py")  # schemathesis' generation alone versus a round trip
    session.run("python", "benchmarks/scaling.py")  # seconds per request by budget, calls held and calls stored
    session.run("python", "benchmarks/parallel_latency.py")  # sequential versus --workers at 50 ms a request
    prism = _prism(session)  # None, with a note, where npm is missing
    session.run("python", "benchmarks/mock_capacity.py", *(["--prism", prism] if prism else []))  # mock versus Prism
    # the mock's memory per stored call and under each attack, a normal client's latency meanwhile, SIGTERM
    # times (Linux); each attack cut after 60 s, so about 10 minutes at most
    session.run("python", "benchmarks/mock_soak.py", "--max-seconds", "60")


@nox.session(name="kill-rate")
def kill_rate(session: nox.Session) -> None:
    """Seeded faults caught by our suite versus stock schemathesis (minutes; its table is in docs/faults.md)."""
    session.install("-e", ".")
    session.run("python", "benchmarks/kill_rate.py", *session.posargs)


PRISM = "@stoplight/prism-cli@5.14.2"


def _prism(session: nox.Session) -> str | None:
    """Prism installed with npm into the session's tmp dir; None, said out loud, where npm is missing."""
    if shutil.which("npm") is None:
        session.warn("npm is not installed: Prism is skipped, so the mock capacity figures have no ratios")
        return None
    prefix = Path(session.create_tmp()) / "prism"
    session.run("npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix), PRISM, external=True)
    return str(prefix / "node_modules" / ".bin" / "prism")


@nox.session(name="mock-capacity")
def mock_capacity(session: nox.Session) -> None:
    """The mock's throughput and p50/p99 versus Prism (also run by bench; options after --)."""
    session.install("-e", ".")
    prism = _prism(session)
    session.run("python", "benchmarks/mock_capacity.py", *(["--prism", prism] if prism else []), *session.posargs)


@nox.session(name="peer-prism")
def peer_prism(session: nox.Session) -> None:
    """The suite against Stoplight Prism serving our spec (a stateless peer); installs it with npm."""
    session.install("-e", ".")
    prefix = Path(session.create_tmp()) / "prism"
    session.run("npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix), PRISM, external=True)
    session.run("python", "benchmarks/peer_prism.py", str(prefix / "node_modules" / ".bin" / "prism"))


@nox.session
def mock(session: nox.Session) -> None:
    """Serve the reference mock on 127.0.0.1:8080 with a demo organisation (options after --)."""
    session.install("-e", ".")
    session.run("husky-conformance", "mock", *session.posargs)
