"""The pytest plugin, through pytest itself (`pytester`): options, exit codes, reports, and staying
out of the way of every other pytest run.

The suite runs in-process (`runpytest_inprocess`), so that a test can break a rule of the bundled
mock with a monkeypatch before the suite starts it. A run takes a second or two; the runs that
several tests read are made once per module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from xml.etree import ElementTree as ET

import pytest
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from suite_runs import (
    BROKEN_MUSTS,
    BROKEN_SHOULD,
    QUICK_PROPERTIES,
    AppServer,
    SuiteRun,
    broken_rules,
    refused_url,
)

from conformance.contract.requirements import REQUIREMENTS
from conformance.layers.results import EXIT_CODES
from conformance.mock import MockConfig, MockServer, create_app
from conformance.run import progress

pytest_plugins = ["pytester"]

FIXTURES_TOKEN = "plugin-fixtures-token"
# The targeted properties alone: the other layers are the whole suite's business (tests/test_run.py),
# and collecting them in-process would import their heavy dependencies afresh for every run.
PROPERTIES = "conformance.suite.test_properties"
SCHEMA_LAYER = {r.id for r in REQUIREMENTS if r.id.startswith("SCHEMA-")}
REPORT_FILES = {"report.json", "junit.xml", "summary.md", "report.html", "ledger.jsonl"}
# The keys the issue lists for report.json, and the ones the report has beyond them (drift shows here).
REPORT_KEYS = {"verdict", "target", "seed", "suite_version", "contract_version", "budget", "requests", "duration_s",
               "requirements"}  # fmt: skip
REPORT_EXTRA_KEYS = {"strict", "throttled", "suite_errors", "verdict_text", "max_requests", "rate_limit_per_minute",
                     "destructive", "seeder", "ledger", "leftovers", "contract", "bundled_mock", "replay"}  # fmt: skip
REQUIREMENT_KEYS = {"id", "level", "statement", "status", "checks", "failures"}
REQUIREMENT_EXTRA_KEYS = {"section", "reason", "out_of_scope", "dimensions"}  # `reason` only when nothing checked it


def run_suite(pytester: pytest.Pytester, *args: str, suite: str = PROPERTIES) -> SuiteRun:
    """`pytest --pyargs SUITE ARGS` in-process, its reports into a directory of its own."""
    report_dir = pytester.path / "out" / "husky"
    result = pytester.runpytest_inprocess(
        "--pyargs", suite, "-p", "no:cacheprovider", "--report-dir", str(report_dir), *args
    )
    return SuiteRun(int(result.ret), "\n".join(result.outlines), "\n".join(result.errlines), report_dir)


BROKEN_TOKEN = "broken-rules-fixtures-token"


@pytest.fixture(scope="module")
def shared() -> dict[str, SuiteRun]:
    return {}


@pytest.fixture
def run_once(pytester: pytest.Pytester, shared: dict[str, SuiteRun]) -> Callable[..., SuiteRun]:
    """`run_once(key, *args)`: the run of the suite with these arguments, made by the first test that asks."""

    def run(key: str, *args: str, broken: bool = False) -> SuiteRun:
        if key not in shared:
            if broken:  # the embedded run's mock has a process of its own: the broken one is served here
                with broken_rules(), MockServer(MockConfig(fixtures_token=BROKEN_TOKEN)) as server:
                    target = ("--target-url", server.url, "--fixtures-token", BROKEN_TOKEN)
                    shared[key] = run_suite(pytester, *args, *target)
            else:
                shared[key] = run_suite(pytester, *args)
        return shared[key]

    return run


@pytest.fixture
def passing(run_once: Callable[..., SuiteRun]) -> SuiteRun:
    """The targeted properties against the bundled mock, with a seed and budget of our own."""
    return run_once("passing", "--seed", "4242", *QUICK_PROPERTIES)


@pytest.fixture
def broken(run_once: Callable[..., SuiteRun]) -> SuiteRun:
    return run_once("broken", *QUICK_PROPERTIES, broken=True)


@pytest.fixture
def broken_strict(run_once: Callable[..., SuiteRun]) -> SuiteRun:
    return run_once("broken strict", *QUICK_PROPERTIES, "--conformance-strict", broken=True)


# --- options and exit codes ----------------------------------------------------------------------


def test_options_reach_the_run(passing: SuiteRun) -> None:
    assert {p.name for p in passing.report_dir.iterdir()} == REPORT_FILES
    assert not (passing.report_dir.parents[1] / "reports").exists(), "the default report directory was used"
    report = passing.report
    assert (report["seed"], report["budget"], report["strict"]) == (4242, "quick", False)
    header = next(line for line in passing.stdout.splitlines() if line.startswith("husky-conformance "))
    assert "(bundled mock)" in header
    assert "seed 4242 · budget quick" in header


def test_targeted_properties_alone_are_incomplete(passing: SuiteRun) -> None:
    """Only the schema layer exercises SCHEMA-RESPONSES, a MUST: without it nothing failed, yet not all ran."""
    assert passing.returncode == EXIT_CODES["incomplete"] == 2, passing.describe()
    assert passing.report["verdict"] == "incomplete"
    not_exercised = {r["id"] for r in passing.report["requirements"] if r["status"] == "not_exercised"}
    assert not_exercised == SCHEMA_LAYER
    assert all(r["failures"] == [] for r in passing.report["requirements"])


def test_a_broken_must_fails_the_run(broken: SuiteRun) -> None:
    assert broken.returncode == EXIT_CODES["fail"] == 1, broken.describe()
    assert broken.report["verdict"] == "fail"
    for requirement in BROKEN_MUSTS:
        assert broken.requirements[requirement]["status"] == "fail", requirement


def test_a_failed_check_shows_its_evidence_not_a_traceback(broken: SuiteRun) -> None:
    """pytest's own failure section holds the requirement, the reproduction and the seed."""
    text = broken.stdout
    repeat = "repeat delete over rest, at once after a delete over rest"
    assert f"[DEL-REPEAT-404] {repeat}: DELETE expected 404 NOT_FOUND, got 200" in text
    (replay,) = {line for line in text.splitlines() if line.startswith("# replay the run: ")}
    assert replay.startswith("# replay the run: husky-conformance run --target-url http://127.0.0.1:"), replay
    assert "--seed 20261201" in replay
    assert "def test_property(" not in text  # no source listing of the suite
    assert "husky = Context(" not in text  # nor the reprs of its frames
    summary = [line for line in broken.stdout.splitlines() if "test_property[repeat_delete] - " in line]
    assert [line.split()[0] for line in summary] == ["FAILED"]


def test_strict_fails_on_a_should(broken_strict: SuiteRun, broken: SuiteRun) -> None:
    assert {run.requirements[BROKEN_SHOULD]["status"] for run in (broken, broken_strict)} == {"fail"}
    assert (broken.report["strict"], broken_strict.report["strict"]) == (False, True)
    assert broken_strict.returncode == 1


def _progress_line(run: SuiteRun, check: str) -> list[str]:
    return next(line.split()[2:-2] for line in run.stdout.splitlines() if line.startswith(f"  [properties] {check} "))


def test_a_checks_line_says_what_the_requirement_table_says(pytester: pytest.Pytester) -> None:
    """The cancel table only breaks a SHOULD (recorded, the check goes on): a warning, or under strict a failure."""
    faults = frozenset({"cancel-422", "repeat-delete-200"})  # a SHOULD, a MUST
    checks = ("-k", "cancel_table or repeat_delete or auth_header_forms", "--budget", "quick")
    with MockServer(MockConfig(fixtures_token=FIXTURES_TOKEN, faults=faults)) as mock:
        target = ("--target-url", mock.url, "--fixtures-token", FIXTURES_TOKEN, *checks)
        lenient, strict = run_suite(pytester, *target), run_suite(pytester, *target, "--conformance-strict")
    assert lenient.requirements[BROKEN_SHOULD]["status"] == "fail", lenient.describe()
    assert _progress_line(lenient, "cancel_table") == ["warn", BROKEN_SHOULD]
    assert _progress_line(strict, "cancel_table") == ["FAIL", BROKEN_SHOULD]
    assert _progress_line(lenient, "repeat_delete") == ["FAIL", "DEL-GONE,DEL-REPEAT-404"]
    assert _progress_line(lenient, "auth_header_forms") == ["pass"]


def test_no_running_count_after_the_last_check(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A count every 7 requests: the clean-up's requests would pass several; it has one line instead."""
    monkeypatch.setattr(progress, "TICK", 7)
    run = run_suite(pytester, "--seed", "4242", "-k", "cancel_table or delete_refused_states", "--budget", "quick")
    lines = run.stdout.splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith("  [properties] "))
    assert any("requests so far" in line for line in lines[:last]), run.describe()
    assert not any("requests so far" in line for line in lines[last:]), run.describe()
    cleaning = [line for line in lines if "cleaning up" in line]
    ledger = run.report["ledger"]
    calls = ledger["deleted"] + ledger["cancelled"] + len(ledger["leftovers"])
    assert cleaning == [f"  cleaning up: {calls} of the suite's calls still on the target"], run.describe()


class _UnderPrefix:
    """The mock served under a base path; anything outside it is counted and answered 404."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app, self.prefix = app, prefix
        self.outside: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if not scope["path"].startswith(self.prefix + "/"):
                self.outside.append(scope["path"])
                await JSONResponse({"error": {"code": "NOT_FOUND", "message": "Outside the base path."}}, 404)(
                    scope, receive, send
                )
                return
            cut = len(self.prefix)
            scope = dict(scope, path=scope["path"][cut:], raw_path=scope["raw_path"][cut:])
        await self.app(scope, receive, send)


@pytest.fixture
def prefixed() -> Iterator[tuple[str, _UnderPrefix]]:
    app = _UnderPrefix(create_app(MockConfig(fixtures_token=FIXTURES_TOKEN)), "/api/husky")
    with AppServer(app) as server:
        yield server.url, app


def test_the_target_url_base_path_is_honoured(pytester: pytest.Pytester, prefixed: tuple[str, _UnderPrefix]) -> None:
    url, app = prefixed
    run = run_suite(
        pytester, "--target-url", f"{url}/api/husky/", "--fixtures-token", FIXTURES_TOKEN, *QUICK_PROPERTIES
    )
    assert run.returncode == 2, run.describe()
    assert run.report["target"] == f"{url}/api/husky"
    assert {r["id"] for r in run.report["requirements"] if r["status"] != "pass"} == SCHEMA_LAYER
    assert run.report["requests"] > 100
    assert app.outside == []


def test_a_wrong_base_path_is_a_usage_error(pytester: pytest.Pytester, prefixed: tuple[str, _UnderPrefix]) -> None:
    """Everything 404s there, the fixtures API first: the run stops before it starts, saying so."""
    url, app = prefixed
    run = run_suite(pytester, "--target-url", f"{url}/api", "--fixtures-token", FIXTURES_TOKEN, *QUICK_PROPERTIES)
    line = assert_one_error_line(run)
    assert "the target has no fixtures API (POST /_fixtures/orgs answered 404 NOT_FOUND)" in line
    assert "--fixtures-token or HUSKY_FIXTURES_TOKEN" in line
    assert app.outside


def assert_one_error_line(run: SuiteRun) -> str:
    assert run.returncode == 4, run.describe()
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("ERROR: ")
    assert run.stdout.strip() == "", "pytest's header (or more) came with the usage error"
    assert not run.report_dir.exists(), "a usage error wrote reports"
    return lines[0]


@pytest.fixture
def unreachable() -> Iterator[str]:
    with refused_url() as url:
        yield url


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--budget", "huge"], "--budget takes smoke (300 requests), quick"),
        (["--request-timeout", "0"], "a positive number of seconds"),
        (["--request-timeout", "nan"], "a positive number of seconds"),
        (["--target-url", "ftp://127.0.0.1/x"], "--target-url must be an http(s) URL"),
        (["--target-url", "http://127.0.0.1:99999"], "--target-url must be an http(s) URL"),
        (["--target-url", "http://[::1"], "--target-url must be an http(s) URL"),
        (["--target-url", "http://127.0.0.1:8080/?q=1"], "takes no query or fragment"),
        (["--strict"], "--strict is pytest's own option and leaves the verdict lenient: use --conformance-strict"),
        (["-k", "no_check_is_called_this"], "-k 'test_property and no_check_is_called_this' selects none"),
    ],
    ids=[
        *("bad budget", "zero timeout", "NaN timeout", "not http", "port out of range", "broken IPv6", "query"),
        *("pytest's --strict", "-k selects nothing"),
    ],
)
def test_a_bad_option_is_one_error_line(pytester: pytest.Pytester, args: list[str], mentions: str) -> None:
    if args[0] == "-k":  # pytest takes the last -k: both in one
        args = ["-k", f"test_property and {args[1]}"]
    assert mentions in assert_one_error_line(run_suite(pytester, *QUICK_PROPERTIES, *args))


def test_an_unreachable_target_is_one_error_line(pytester: pytest.Pytester, unreachable: str) -> None:
    line = assert_one_error_line(run_suite(pytester, "--target-url", unreachable, *QUICK_PROPERTIES))
    assert line == f"ERROR: cannot reach the target {unreachable} (ConnectError); check --target-url and that it is up"


def test_collect_only_lists_the_checks_without_a_target(pytester: pytest.Pytester, unreachable: str) -> None:
    run = run_suite(pytester, "--collect-only", "-q", "--target-url", unreachable, suite="conformance.suite")
    assert run.returncode == 0, run.describe()
    assert any(line.endswith("test_property[repeat_delete]") for line in run.stdout.splitlines())
    assert not run.report_dir.exists()


# --- reports -------------------------------------------------------------------------------------


def test_report_json_has_the_issues_keys(broken: SuiteRun) -> None:
    report = broken.report
    assert set(report) == REPORT_KEYS | REPORT_EXTRA_KEYS
    assert [r["id"] for r in report["requirements"]] == [r.id for r in REQUIREMENTS]
    for entry in report["requirements"]:
        assert REQUIREMENT_KEYS <= set(entry) <= REQUIREMENT_KEYS | REQUIREMENT_EXTRA_KEYS, entry["id"]
        assert ("reason" in entry) == (entry["checks"] == 0), entry["id"]
        for failure in entry["failures"]:
            assert set(failure) == {"message", "reproduction"}
    assert isinstance(report["requests"], int)
    assert report["requests"] > 100
    assert isinstance(report["duration_s"], float)
    assert report["duration_s"] > 0


def test_report_json_matches_the_catalogue(broken: SuiteRun) -> None:
    by_id = {r.id: r for r in REQUIREMENTS}
    for entry in broken.report["requirements"]:
        requirement = by_id[entry["id"]]
        assert (entry["level"], entry["statement"], entry["section"]) == (
            requirement.level,
            requirement.statement,
            requirement.section,
        )
        assert entry["status"] in {"pass", "fail", "not_exercised"}
        assert (entry["status"] == "fail") == bool(entry["failures"])


def _junit(run: SuiteRun) -> ET.Element:
    return ET.parse(run.report_dir / "junit.xml").getroot()


def _gating_failures(run: SuiteRun) -> set[str]:
    strict = run.report["strict"]
    return {r["id"] for r in run.report["requirements"] if r["status"] == "fail" and (r["level"] == "MUST" or strict)}


@pytest.mark.parametrize("which", ["broken", "broken_strict"])
def test_junit_has_a_case_per_requirement_and_fails_only_what_gates(which: str, request: pytest.FixtureRequest) -> None:
    run: SuiteRun = request.getfixturevalue(which)
    suite = _junit(run)
    cases = suite.findall("testcase")
    assert [c.get("name", "").split(":")[0] for c in cases] == [r.id for r in REQUIREMENTS]
    failed = {c.get("name", "").split(":")[0] for c in cases if c.find("failure") is not None}
    assert failed == _gating_failures(run)
    assert (BROKEN_SHOULD in failed) == (which == "broken_strict")
    assert suite.get("tests") == str(len(REQUIREMENTS))
    assert suite.get("failures") == str(len(failed))
    skipped = {c.get("name", "").split(":")[0] for c in cases if c.find("skipped") is not None}
    assert skipped == {r["id"] for r in run.report["requirements"] if r["status"] == "not_exercised"}


def test_junit_keeps_a_should_failure_as_a_warning(broken: SuiteRun) -> None:
    case = next(c for c in _junit(broken).findall("testcase") if c.get("name", "").startswith(BROKEN_SHOULD + ":"))
    assert case.find("failure") is None
    warning = case.findtext("system-err") or ""
    assert warning.startswith("SHOULD not met")
    assert "curl " in warning


def test_summary_has_a_row_per_requirement(broken: SuiteRun) -> None:
    summary = (broken.report_dir / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# HuskyVoice conformance: **FAIL**")
    table = summary.split("<details>", 1)[0]  # the requirement table, not the dimensions' folded one
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [r.id for r in REQUIREMENTS]
    marks = {row.split("`")[1]: row.split(" | ")[3] for row in rows}
    assert marks["DEL-REPEAT-404"] == "❌ FAIL"
    assert marks[BROKEN_SHOULD] == "⚠️ warn"
    assert marks["SCHEMA-RESPONSES"] == "➖ not exercised"
    assert marks["AUTH-BEARER"] == "✅ pass"
    assert "## Failures" in summary
    assert "```sh\ncurl " in summary


# --- other pytest runs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def test_ok():\n    pass\n", pytest.ExitCode.OK),
        ("def test_ok():\n    pass\n\ndef test_no():\n    assert False\n", pytest.ExitCode.TESTS_FAILED),
    ],
    ids=["passing", "failing"],
)
def test_a_run_without_the_suite_is_left_alone(
    pytester: pytest.Pytester, source: str, expected: pytest.ExitCode
) -> None:
    pytester.makepyfile(test_plain=source)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--report-dir", str(pytester.path / "out"))
    assert result.ret == expected
    assert not (pytester.path / "out").exists()
    assert not (pytester.path / "reports").exists()
    assert not any("husky-conformance" in line or "verdict:" in line for line in result.outlines)
