"""Record and replay runs (`--cassettes DIR`, `--replay`): the targeted properties through VCR.py.

A `Recording` is a pytest plugin object the suite's plugin registers for such a run. It keeps the
run to the targeted properties and puts a `vcr` mark on each (pytest-recording then gives every
check its own cassette, named after it), wraps the suite's own set-up and clean-up traffic in two
more cassettes, and, when recording, writes the index.

A replay is offline and exact: a request the recording does not have, or a recorded interaction
left unused, is a suite error naming the check (the verdict is `incomplete`), never a traceback.
Requirements no recorded check judges (the schema layer's) are out of scope: not exercised, and
not counted against the verdict.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import pytest
from vcr import VCR
from vcr.errors import CannotOverwriteExistingCassetteException, UnhandledHTTPRequestError

from conformance.cassettes import cassette_set
from conformance.cassettes.cassette_set import CLEANUP, OPEN, Index, Scrubber
from conformance.errors import NotExercised, UsageError
from conformance.run import options

if TYPE_CHECKING:
    from conformance.config import SuiteConfig
    from conformance.layers.checks import Check
    from conformance.run.session import SuiteSession

__all__ = ["OUT_OF_SCOPE", "RESPONSE_WIDE", "Recording", "register"]

OUT_OF_SCOPE = "outside the recorded scenario set (targeted properties)"
RECORD_AGAIN = "the suite or the seed changed since recording; record again"
# Judged on every response of every check (`conformance.layers.universal`): every cassette holds them.
RESPONSE_WIDE = ("ENV-NO-5XX", "ENV-ERROR-ENVELOPE", "ENV-JSON", "DEL-ERASURE", "RATE-LIMIT-429", "ID-NEVER-REUSED")
MISMATCH = (CannotOverwriteExistingCassetteException, UnhandledHTTPRequestError)


def _check_of(item: pytest.Item) -> Check | None:
    """The check a targeted-property item runs, or None for any other item."""
    marker = item.get_closest_marker("husky")
    callspec = getattr(item, "callspec", None)
    if marker is None or marker.kwargs.get("layer") != "properties" or callspec is None:
        return None
    check: Check | None = callspec.params.get("check")
    return check


def _no_wait(seconds: float) -> None:
    """A replay's sleep: throttling and pacing were real when recorded, and are not waited again."""


class Recording:
    def __init__(self, directory: Path, *, replay: bool) -> None:
        self.directory = directory
        self.replay = replay
        self.index: Index | None = cassette_set.read_index(directory) if replay else None
        secrets = cassette_set.placeholder_secrets(directory, self.index) if self.index else None
        self.scrubber = Scrubber(secrets)  # recording: the run's store, once the session has it
        self.checks: list[Check] = []
        self.interactions: dict[str, int] = {}
        self.suite: SuiteSession | None = None
        self.strayed: list[str] = []  # what a replay found that its recording does not have

    # --- pytest hooks ----------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)  # after -k and -m have deselected
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Only the targeted properties are recorded: the suite's other layers are deselected."""
        others = [i for i in items if i.get_closest_marker("husky") and _check_of(i) is None]
        items[:] = [i for i in items if i not in others]
        if others:
            config.hook.pytest_deselected(items=others)
        for item in items:
            check = _check_of(item)
            if check is not None:
                item.add_marker(pytest.mark.vcr)
                if self.replay:
                    item.add_marker(pytest.mark.block_network)
                self.checks.append(check)

    def pytest_recording_configure(self, config: pytest.Config, vcr: VCR) -> None:
        vcr.register_matcher("husky", cassette_set.same_request)

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
        check, cassette = _check_of(pyfuncitem), pyfuncitem.funcargs.get("vcr")  # pytest-recording's fixture
        cassette = cast(Any, cassette)
        if check is None or cassette is None:
            return (yield)
        _serialise_playback(cassette)
        try:
            result = yield
        except MISMATCH as error:
            raise NotExercised(self._error(self._mismatch(f"check {check.name!r}", error))) from None
        except BaseException:
            self._unused(f"check {check.name!r}", cassette)  # a failure stands; an unused rest is noted too
            raise
        finally:
            self.interactions[f"{check.name}.yaml"] = len(cassette.data)
        message = self._unused(f"check {check.name!r}", cassette)
        if message:
            raise NotExercised(message)
        return result

    @pytest.hookimpl(trylast=True)  # after the suite's final table
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.suite is None:
            return
        count, total = len(self.interactions), sum(self.interactions.values())
        done = "replayed offline from" if self.replay else "recorded into"
        terminalreporter.write_line(f"cassettes: {count} {done} {self.directory}/ ({total} interactions)")
        for message in self.strayed:
            terminalreporter.write_line(message)

    # --- the fixtures of the suite's property tests ----------------------------------------

    def vcr_config(self) -> dict[str, Any]:
        """pytest-recording's `vcr_config`: record mode, matching and scrubbing of every check's cassette."""
        return {
            "record_mode": "none" if self.replay else "rewrite",
            "match_on": list(cassette_set.MATCH_ON),
            "before_record_request": self.scrubber.request if self.replay else _unchanged,
            "before_save_interaction": self.scrubber.interaction,
            "allow_playback_repeats": False,
            "decode_compressed_response": True,  # a compressed body could not be scrubbed
        }

    # --- the suite's own traffic -----------------------------------------------------------

    def open(self, config: SuiteConfig, selected: Collection[str] = ()) -> SuiteSession:
        """`SuiteSession.open` (the `selected` checks' early set-up too) inside the set-up cassette; then its scope."""
        from conformance.run.session import SuiteSession

        if not self.replay:
            self._clear()
        try:
            with self._cassette(OPEN) as cassette:
                wait = _no_wait if self.replay else time.sleep
                suite = self.suite = SuiteSession.open(config, sleep=wait, selected=selected)
                if self.scrubber.secrets is None:  # recording: scrub with what the run knows
                    self.scrubber.secrets = suite.ctx.client.secrets
        except MISMATCH as error:
            raise UsageError(self._mismatch("the set-up (provisioning)", error)) from None
        self._unused("the set-up (provisioning)", cassette)
        if self.replay:
            self._compare_checks()
        self._scope(suite)
        return suite

    @contextlib.contextmanager
    def cleanup(self) -> Iterator[None]:
        """Around the suite's clean-up: its cassette; when recording, the index at the end."""
        try:
            with self._cassette(CLEANUP) as cassette:
                yield
            self._unused("the clean-up", cassette)
        except MISMATCH as error:
            self._error(self._mismatch("the clean-up", error))
        finally:
            if not self.replay:
                self._write_index()

    @contextlib.contextmanager
    def _cassette(self, name: str) -> Iterator[Any]:
        path = self.directory / f"{name}.yaml"
        vcr = VCR()
        vcr.register_matcher("husky", cassette_set.same_request)
        config = self.vcr_config() | {"record_mode": "none" if self.replay else "new_episodes"}
        blocking = _blocking() if self.replay else contextlib.nullcontext()
        with blocking, vcr.use_cassette(str(path), **config) as cassette:
            _serialise_playback(cassette)
            try:
                yield cassette
            finally:
                self.interactions[path.name] = len(cassette.data)

    # --- what the run covers and how it went -----------------------------------------------

    def _scope(self, suite: SuiteSession) -> None:
        from conformance.contract.requirements import REQUIREMENTS

        judged = {r for check in self.checks for r in check.requirements} | set(RESPONSE_WIDE)
        suite.ctx.results.exclude([r.id for r in REQUIREMENTS if r.id not in judged], OUT_OF_SCOPE)

    def _compare_checks(self) -> None:
        assert self.index is not None
        run = {check.name for check in self.checks}
        for name in self.index.checks:
            if name not in run:
                self._error(f"replay: the recording has check {name!r}, which this run does not run ({RECORD_AGAIN})")

    def _mismatch(self, what: str, error: Exception) -> str:
        request = getattr(error, "failed_request", None)
        if getattr(error, "reason", "") == "cassette_not_found":
            return f"replay: {what} has no cassette in {self.directory} ({RECORD_AGAIN})"
        sent = self._describe(request) if request is not None else "a request"
        return f"replay: {what} sent a request the recording does not have: {sent} ({RECORD_AGAIN})"

    def _unused(self, what: str, cassette: Any) -> str | None:
        if not self.replay or cassette.all_played:
            return None
        left = [request for index, (request, _) in enumerate(cassette.data) if not cassette.play_counts[index]]
        return self._error(
            f"replay: {what} left {len(left)} of its {len(cassette.data)} recorded interactions unused,"
            f" the first {self._describe(left[0])} ({RECORD_AGAIN})"
        )

    def _describe(self, request: Any) -> str:
        parts = urlsplit(self.scrubber.url(request.uri) if self.scrubber.secrets else "[REDACTED]")
        return f"{request.method} {parts.path}{'?' + parts.query if parts.query else ''}"

    def _error(self, message: str) -> str:
        self.strayed.append(message)
        if self.suite is not None:
            self.suite.suite_errors.append(message)
        return message

    # --- the files ---------------------------------------------------------------------------

    def _clear(self) -> None:
        """A new recording replaces the old one; a directory holding anything else is refused."""
        cassette_set.refuse_foreign(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in self.directory.iterdir():
            if path.name != ".gitkeep":
                path.unlink()

    def _write_index(self) -> None:
        from conformance import CONTRACT_VERSION, __version__
        from conformance.config import REQUEST_CAPS

        suite = self.suite
        assert suite is not None
        config = suite.config
        order = [OPEN, *(check.name for check in self.checks), CLEANUP]
        names = [f"{n}.yaml" for n in order]
        files = {n: self.interactions.get(n, 0) for n in names if (self.directory / n).is_file()}
        judged_by_all = [f for f in files if f != f"{OPEN}.yaml"]
        requirements: dict[str, list[str]] = {r: list(judged_by_all) for r in RESPONSE_WIDE}
        for check in self.checks:
            for requirement in check.requirements if f"{check.name}.yaml" in files else ():
                requirements.setdefault(requirement, []).append(f"{check.name}.yaml")
        budget = config.budget.name
        index = Index(
            suite_version=__version__,
            contract_version=CONTRACT_VERSION,
            target=suite.ctx.client.secrets.redact(suite.target),
            seed=config.seed,
            budget=budget if REQUEST_CAPS.get(budget) == config.max_requests else str(config.max_requests),
            strict=config.strict,
            fixtures_token=config.fixtures_token is not None,
            credentials=[n for f, n in cassette_set.CREDENTIAL_NAMES.items() if getattr(config.credentials, f)],
            checks=[check.name for check in self.checks],
            cassettes=files,
            requirements=dict(sorted(requirements.items())),
            options=options.kept(config),
        )
        cassette_set.write_index(self.directory, index)


def register(config: pytest.Config, name: str) -> None:
    """`--cassettes DIR` (with `--replay`, a replay): the run's `Recording`, a plugin by `name`."""
    try:
        recording = Recording(Path(config.option.cassettes), replay=config.option.replay)
    except UsageError as error:
        raise pytest.UsageError(str(error)) from None
    config.pluginmanager.register(recording, name)


def _unchanged(request: Any) -> Any:
    """Recording keeps requests as sent until the cassette is saved: then they are scrubbed."""
    return request


def _blocking() -> contextlib.AbstractContextManager[None]:
    from pytest_recording.network import blocking_context

    return blocking_context()


def _serialise_playback(cassette: Any) -> None:
    """Concurrent requests (the concurrency check) each take a different recorded answer.

    VCR.py picks "the first interaction not yet played" without a lock; two threads could take
    the same one. The lock is on this cassette object only.
    """
    play: Callable[[Any], Any] = cassette.play_response
    lock = threading.Lock()

    def play_response(request: Any) -> Any:
        with lock:
            return play(request)

    cassette.play_response = play_response
