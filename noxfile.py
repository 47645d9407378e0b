"""Every job of the project, one nox session each. Versions come from pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True


@nox.session
def tests(session: nox.Session) -> None:
    """The project's own tests (unit, mock over real uvicorn, stock schemathesis)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


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


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not part of CI's test run); their figures go into the README."""
    session.install("-e", ".")
    session.run("python", "benchmarks/suite_duration.py", *session.posargs)


@nox.session(name="kill-rate")
def kill_rate(session: nox.Session) -> None:
    """Seeded faults caught by our suite versus stock schemathesis (minutes; its table is in the README)."""
    session.install("-e", ".")
    session.run("python", "benchmarks/kill_rate.py", *session.posargs)


PRISM = "@stoplight/prism-cli@5.14.2"


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
