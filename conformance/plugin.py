"""The pytest plugin (entry point `pytest11`): options, the suite's fixture, and hooks that turn
test outcomes into requirement results, reports and the gating exit code; and `husky_mock`, the
fixture SDK teams test their SDKs with (`conformance.testing`).

It does nothing unless the collected tests include the suite's own (`conformance.suite`), so it
is harmless in any other pytest run. Heavy imports happen only then (or when a test asks for
`husky_mock`, which starts a mock and nothing of the suite).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from conformance.config import SuiteConfig
    from conformance.layers.context import Context
    from conformance.run.session import SuiteSession
    from conformance.testing import HuskyMock

SESSION: pytest.StashKey[SuiteSession] = pytest.StashKey()
OUTCOME: pytest.StashKey[str] = pytest.StashKey()
OTHER_FAILED: pytest.StashKey[bool] = pytest.StashKey()
REASON: pytest.StashKey[str] = pytest.StashKey()
IN_PLAY: pytest.StashKey[bool] = pytest.StashKey()  # the suite's own tests were collected: crashes are ours
CRASHED: pytest.StashKey[BaseException] = pytest.StashKey()  # the suite itself failed (exit 3)
MISUSED: pytest.StashKey[str] = pytest.StashKey()  # a usage error met in a check: the run stops (exit 4)
SUITE_CONFIG: pytest.StashKey[SuiteConfig] = pytest.StashKey()
FROM_CLI: pytest.StashKey[bool] = pytest.StashKey()  # run by `husky-conformance` (`main`), not by pytest itself
SUITE_MARKER = "husky"
RECORDING = "husky-recording"  # the record/replay plugin object (`conformance.cassettes.recording`), when --cassettes


def pytest_addoption(parser: pytest.Parser) -> None:
    from conformance.run import options

    options.add_pytest_options(parser.getgroup("husky-conformance", "HuskyVoice conformance suite"))


def main(words: list[str], suite_config: SuiteConfig) -> int:
    """`pytest.main(words)` for the CLI, with the config it built from the same options: built once."""
    return int(pytest.main(words, plugins=[_Given(suite_config)]))


class _Given:
    """The CLI's config for this run, and its way of saying a usage error (`husky-conformance: ...`)."""

    def __init__(self, suite_config: SuiteConfig) -> None:
        self.suite_config = suite_config

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[SUITE_CONFIG] = self.suite_config
        config.stash[FROM_CLI] = True
        config._inipath = None  # `-c os.devnull` (no ini file of where it runs): no `configfile:` line


def _suite_config(config: pytest.Config) -> SuiteConfig:
    """The run's config: the CLI's (`main`), else built from pytest's options, once."""
    if SUITE_CONFIG not in config.stash:
        from conformance.cassettes.cassette_set import run_environment
        from conformance.run import options

        values = options.given(config.option)
        config.stash[SUITE_CONFIG] = options.suite_config(values, run_environment(config.option))
    return config.stash[SUITE_CONFIG]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{SUITE_MARKER}(layer, requirements): a test of the conformance suite")
    if config.option.cassettes:
        from conformance.cassettes.recording import register

        register(config, RECORDING)
    _catch_internal_errors(config)


def _catch_internal_errors(config: pytest.Config) -> None:
    """Once the suite is in play, an internal error is no INTERNALERROR traceback: the suite itself failed.

    pytest reports it through `Config.notify_exception`, whose hook (`pytest_internalerror`) cannot
    stop the terminal's traceback: the method itself is replaced, for this config only.
    """
    original = config.notify_exception

    def notify_exception(excinfo: Any, option: Any = None) -> None:
        if not config.stash.get(IN_PLAY, False):
            return original(excinfo, option)
        config.stash[CRASHED] = excinfo.value
        if config.stash.get(SESSION, None) is None:  # else the session's end reports it, after the clean-up
            _crashed(config, excinfo.value, None)
        return None

    config.notify_exception = notify_exception  # type: ignore[method-assign]


def _crashed(config: pytest.Config, error: BaseException, suite: SuiteSession | None) -> int:
    """Exit code 3: one line on stderr, the details in report.json (with what the run judged, if it can)."""
    from pathlib import Path

    from conformance.run import crash
    from conformance.run.options import secret_values

    secrets = crash.known_secrets(os.environ)
    for name, value in secret_values(config.option).items():
        secrets.add(value, name)
    data = None
    if suite is not None:
        from conformance.run import report

        with contextlib.suppress(Exception):  # what broke may be the report itself
            data = report.build(suite).to_json()
    return crash.fail(error, secrets, Path(config.option.report_dir), data)


LAYER_ORDER = {"properties": 0, "schema": 1, "lifecycle": 2}  # the long one last: its shrinking cannot starve the rest


@pytest.hookimpl(trylast=True)  # after -k: the slices share out what was selected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.option.slice:
        _keep_slice(config, items)

    def layer(item: pytest.Item) -> int:
        marker = item.get_closest_marker(SUITE_MARKER)
        return LAYER_ORDER.get(marker.kwargs.get("layer", ""), -1) if marker else -1

    items.sort(key=layer)  # stable: within a layer, and for other tests, the collected order stays


def _keep_slice(config: pytest.Config, items: list[pytest.Item]) -> None:
    from conformance.config import resolve_budget
    from conformance.run.parallel import assign, parse_slice

    k, n = parse_slice(config.option.slice)  # checked by pytest already (`conformance.run.options.k_of_n`)
    suite = {_name(item): item for item in items if item.get_closest_marker(SUITE_MARKER)}
    slices = assign(list(suite), n, resolve_budget(config.option.budget)[0])
    others = [item for name, item in suite.items() if slices[name] != k]
    items[:] = [item for item in items if item not in others]
    config.hook.pytest_deselected(items=others)


def _name(item: pytest.Item) -> str:
    """A check's name, as the progress lines show it: `repeat_delete`, `POST /v1/calls`, `test_lifecycle`."""
    return item.callspec.id if isinstance(item, pytest.Function) and hasattr(item, "callspec") else item.name


def _suite_items(session: pytest.Session) -> list[pytest.Item]:
    return [item for item in session.items if item.get_closest_marker(SUITE_MARKER)]


@pytest.hookimpl(tryfirst=True)  # before pytest's header: held until the run is known to start
def pytest_sessionstart(session: pytest.Session) -> None:
    if session.config.stash.get(FROM_CLI, False) or _names_suite(session.config):
        from conformance.run import progress

        progress.hold(session.config)


def _names_suite(config: pytest.Config) -> bool:
    """Whether pytest's command line names the suite (`--pyargs conformance.suite`, a path into it)."""
    words = [str(arg).split("::")[0].replace("/", ".").removesuffix(".py") for arg in config.invocation_params.args]
    return any(word.endswith("conformance.suite") or "conformance.suite." in word for word in words)


def pytest_collection_finish(session: pytest.Session) -> None:
    from conformance.run import progress

    config = session.config
    # --collect-only lists the checks: it must not provision anything on the target.
    if config.option.collectonly or not _suite_items(session):
        if reason := _selects_none(session):
            _refuse(config, reason)
        return progress.release(config)
    config.stash[IN_PLAY] = True
    from conformance.errors import UsageError

    try:
        if "--strict" in map(str, config.invocation_params.args):  # pytest's own (markers, config): not ours
            raise UsageError("--strict is pytest's own option and leaves the verdict lenient: use --conformance-strict")
        suite = _open(config, {_name(item) for item in _suite_items(session)})
    except UsageError as error:
        _refuse(config, str(error))
    config.stash[SESSION] = suite
    if config.option.slice:  # the report names the part of a split run it is (`merge` joins them)
        from conformance.run.parallel import shard

        suite.shard = shard(config.option.slice)
    progress.release(config)
    progress.start(config, suite)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """The bundled mock started as collection begins, to start up alongside it (each worker of
    `--workers`, or pytest run by hand; the command line started its own before pytest)."""
    if _names_suite(session.config) and not session.config.option.collectonly:
        from conformance.errors import UsageError
        from conformance.run.session import start_mock_early

        with contextlib.suppress(UsageError):  # said in its turn, as the session opens
            start_mock_early(_suite_config(session.config))


def pytest_unconfigure(config: pytest.Config) -> None:
    if (session := sys.modules.get("conformance.run.session")) is not None:  # else no mock started early
        session.stop_early_mock()


def _selects_none(session: pytest.Session) -> str | None:
    """Why the run has none of the suite's checks, when the user's options are why: `-k`, or a shard
    beyond them (a worker's empty slice is its parent's business: `conformance.run.parallel`)."""
    config = session.config
    if config.option.collectonly or session.testsfailed or _suite_items(session):
        return None
    share, keyword, cli = config.option.slice, config.option.keyword, config.stash.get(FROM_CLI, False)
    if share and cli:
        return f"shard {share} has none of the checks to run; use fewer shards" + (
            f", or widen -k {keyword!r}" if keyword else ""
        )
    if keyword and not share and (cli or _names_suite(config)):
        return f"-k {keyword!r} selects none of the suite's checks; drop it or widen it"
    return None


def _refuse(config: pytest.Config, message: str) -> NoReturn:
    """A usage error met once pytest started: this one line, and nothing of pytest's (exit 4)."""
    from conformance.run import progress

    progress.release(config, show=False)
    if config.stash.get(FROM_CLI, False):
        print(f"husky-conformance: {message}", file=sys.stderr)
        raise pytest.UsageError()  # pytest prints each of its arguments: none
    raise pytest.UsageError(message)


def _open(config: pytest.Config, selected: set[str]) -> SuiteSession:
    """The run's session, for the `selected` checks; a record or replay run opens it inside its set-up cassette."""
    from conformance.run.session import SuiteSession

    suite_config, recording = _suite_config(config), config.pluginmanager.get_plugin(RECORDING)
    return recording.open(suite_config, selected) if recording else SuiteSession.open(suite_config, selected=selected)


@pytest.fixture(scope="session")
def husky_recording(request: pytest.FixtureRequest) -> Any:
    """The record or replay side of this run (`--cassettes`; a `conformance.cassettes.recording.Recording`), or None."""
    return request.config.pluginmanager.get_plugin(RECORDING)


@pytest.fixture(scope="session")
def husky(request: pytest.FixtureRequest) -> Context:
    """The suite's context: client, environment, results and config of this run."""
    suite = request.config.stash.get(SESSION, None)
    if suite is None:
        raise pytest.UsageError("the conformance suite's tests run only through its plugin's session")
    return suite.ctx


@pytest.fixture(scope="session")
def husky_mock() -> Generator[HuskyMock, None, None]:
    """A HuskyVoice mock on a free loopback port for the whole session (`conformance.testing.HuskyMock`).

    `.url`, `.new_org(scopes=...)` (one per test: organisations keep tests apart),
    `.seed_call(org, status, **fields)`, `.advance(call, status)`, `.new_key(org, ...)`, and
    `with .faults(name, ...):` to break rules of the contract for one block.
    """
    from conformance.testing import HuskyMock

    with HuskyMock() as mock:
        yield mock


def _requirements(item: pytest.Item) -> tuple[str, ...]:
    marker = item.get_closest_marker(SUITE_MARKER)
    return tuple(marker.kwargs.get("requirements", ())) if marker else ()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.failed and not item.get_closest_marker(SUITE_MARKER):
        item.config.stash[OTHER_FAILED] = True  # the verdict must not hide it
    suite = item.config.stash.get(SESSION, None)
    if suite is None or call.excinfo is None or not item.get_closest_marker(SUITE_MARKER):
        return report
    from conformance.errors import Failure, NotExercised, UsageError, failures_in

    error = call.excinfo.value
    failures = failures_in(error, Failure)
    if failures:
        for failure in failures:
            suite.ctx.record(failure)
        item.stash[OUTCOME] = "FAIL " + ",".join(sorted({f.requirement for f in failures}))
        # The evidence, not a traceback: the frames' reprs would show keys, tokens and the config.
        notes = [suite.ctx.client.secrets.redact(n) for n in getattr(error, "__notes__", [])]  # shrunk steps
        report.longrepr = "\n\n".join([*(suite.ctx.describe(f) for f in failures), *notes])
    elif isinstance(error, NotExercised):
        suite.ctx.results.skip(_requirements(item), error.reason)
        item.stash[OUTCOME] = "not exercised"
        item.stash[REASON] = error.reason
    elif isinstance(error, pytest.skip.Exception):
        item.stash[OUTCOME] = "skipped"
    elif isinstance(error, UsageError):  # met only now (a fixtures API answering nonsense): stop the run
        message = suite.ctx.client.secrets.redact(str(error))
        item.config.stash[MISUSED] = message
        item.session.shouldstop = f"usage error: {message}"
        item.stash[OUTCOME] = "usage error"
        report.longrepr = message
    else:
        suite.suite_errors.append(f"{item.name}: {type(error).__name__}: {error}")
        suite.ctx.results.skip(_requirements(item), f"suite error in {item.name}")
        item.stash[OUTCOME] = "SUITE ERROR"
        # Not pytest's traceback: it prints the arguments of the failing frame (keys, tokens, the config).
        lines = traceback.format_exception(error)
        report.longrepr = suite.ctx.client.secrets.redact(f"suite error in {item.name}:\n{''.join(lines)}")
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    suite = item.config.stash.get(SESSION, None)
    marker = item.get_closest_marker(SUITE_MARKER)
    if suite is None or marker is None:
        return (yield)
    before, found = suite.ctx.client.requests, suite.ctx.results.found.copy()
    name = _name(item)
    suite.ctx.begin(name, _requirements(item))  # what the calls it creates are for; its reproductions
    result = yield
    from conformance.run import progress

    failed = suite.ctx.results.found - found  # the failures it found, in passing (SHOULDs, universal rules) too
    outcome = progress.outcome(item.stash.get(OUTCOME, "pass"), failed, strict=suite.config.strict)
    entry = {"layer": marker.kwargs.get("layer", ""), "name": name, "requirements": list(_requirements(item))}
    entry |= {"outcome": outcome, "requests": suite.ctx.client.requests - before, "reason": item.stash.get(REASON, "")}
    progress.item_line(item.config, suite, entry)
    return result


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    suite = config.stash.get(SESSION, None)
    if SUITE_MARKER in report.keywords and report.when == "call" and suite:
        word = "planned" if suite.planned and report.passed else report.outcome  # a dry run passes nothing
        return word, "", word.upper()  # no dot: the suite prints its own line per check
    return None


def pytest_sessionfinish(session: pytest.Session) -> None:
    from conformance.run import progress

    progress.release(session.config)  # if collection ended early
    suite = session.config.stash.get(SESSION, None)
    if suite is None:
        return
    from conformance.run import report

    crashed = session.config.stash.get(CRASHED, None)
    try:
        progress.stop(session.config, suite)
        _clean_up(suite, session.config)
        if crashed is None and MISUSED in session.config.stash:
            print(f"husky-conformance: {session.config.stash[MISUSED]}", file=sys.stderr)
            from conformance.errors import USAGE_ERROR

            session.exitstatus = USAGE_ERROR
        elif crashed is None:
            if session.exitstatus == pytest.ExitCode.INTERRUPTED:  # Ctrl-C: never a pass
                suite.suite_errors.append("interrupted (Ctrl-C): the checks after the last one shown did not run")
            code = report.finish(suite)
            # A run that mixes other tests with the suite keeps their failure visible.
            session.exitstatus = max(code, 1) if session.config.stash.get(OTHER_FAILED, False) else code
    except Exception as error:  # the suite's own bug: exit 3, not a traceback
        crashed = session.config.stash[CRASHED] = error
    finally:
        suite.close()
    if crashed is not None:
        session.exitstatus = _crashed(session.config, crashed, suite)


def _clean_up(suite: SuiteSession, config: pytest.Config) -> None:
    """The suite's calls, cancelled and deleted where they can be; a failure of it is a suite error."""
    recording = config.pluginmanager.get_plugin(RECORDING)
    try:
        with recording.cleanup() if recording else contextlib.nullcontext():
            suite.clean_up()
    except Exception as error:  # the reports must still be written
        suite.suite_errors.append(f"clean-up: {type(error).__name__}: {error}")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    suite = config.stash.get(SESSION, None)
    if suite is not None and CRASHED not in config.stash and MISUSED not in config.stash:
        from conformance.run import report

        terminalreporter.write_line(report.plan_table(suite) if suite.planned else report.final_table(suite))
