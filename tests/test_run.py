"""`husky-conformance run` end to end: the real CLI in a subprocess, against the bundled mock it
starts itself on a free port; and `husky-conformance requirements`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from suite_runs import QUICK_PROPERTIES, RawServer, SuiteRun, run_suite, suite_env

from conformance.contract.requirements import REQUIREMENTS
from conformance.layers.checks import CHECKS
from conformance.layers.results import EXIT_CODES

PROGRESS = re.compile(r"  \[(?P<layer>\w+) *\] (?P<name>\S+) +(?P<outcome>.+?) +(?P<requests>\d+) requests")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    report_dir = tmp_path_factory.mktemp("run") / "reports"
    return run_suite([*QUICK_PROPERTIES, "--seed", "99", "--strict", "--timeout", "5"], report_dir)


def test_the_exit_code_is_the_verdicts(run: SuiteRun) -> None:
    run.assert_exit_matches_verdict()
    assert run.report["verdict"] == "incomplete"  # the schema layer was not selected
    assert run.stderr == ""


def test_the_options_reach_the_run(run: SuiteRun) -> None:
    assert (run.report["seed"], run.report["budget"], run.report["strict"]) == (99, "quick", True)
    written = {p.name for p in run.report_dir.iterdir()}
    assert written == {"report.json", "junit.xml", "summary.md", "report.html", "ledger.jsonl"}


def test_each_requirement_lists_the_dimensions_it_was_judged_along(run: SuiteRun) -> None:
    dims = {r["id"]: r["dimensions"] for r in run.report["requirements"]}
    repeat = dims["DEL-REPEAT-404"]  # repeat deletes over each transport, at once and after the pause
    assert (repeat["transport"], repeat["call_state"], repeat["repetition"]) == (
        ["REST", "webhook"],
        ["deleted"],
        ["repeat"],
    )
    assert repeat["timing"] == ["after the pause", "at once"]
    assert dims["CANCEL-REPEAT-200"]["timing"] == ["after the pause", "at once"]
    assert dims["DEL-COMPLETED-200"]["call_state"] == ["completed"]  # as it was when the delete went
    # judged on the racing deletes, and on the GET after the race (a call brought back)
    assert dims["DEL-CONCURRENT-ONCE"]["concurrency"] == ["concurrent", "sequential"]
    assert dims["AUTH-MISSING-401"]["credential"] == ["none"]  # judged on requests without a credential only
    before = dims["AUTH-BEFORE-EXISTENCE"]
    assert before["transport"] == ["REST", "webhook"]
    assert {"HEAD", "OPTIONS", "DELETE", "GET"} <= set(before["method"])
    assert {"never existed", "other organisation's", "deleted"} <= set(before["call_state"])
    assert dims["ENV-UNKNOWN-ROUTE-404"]["method"] == ["GET"]  # judged by GETs only: no DELETE listed
    assert not any(dims["SCHEMA-RESPONSES"].values())  # the schema layer did not run: nothing judged
    assert "Dimensions covered, per requirement" in (run.report_dir / "summary.md").read_text(encoding="utf-8")
    assert '<details class="dims">' in (run.report_dir / "report.html").read_text(encoding="utf-8")


def test_the_header_names_target_seed_and_budget(run: SuiteRun) -> None:
    headers = [line for line in run.stdout.splitlines() if line.startswith("husky-conformance ")]
    assert len(headers) == 1, headers
    assert re.fullmatch(
        r"husky-conformance \S+ · contract \S+ · target http://127\.0\.0\.1:\d+ \(bundled mock\)"
        r" · seed 99 · budget quick \(2000 requests\) · strict",
        headers[0],
    ), headers[0]


def test_the_header_names_no_configfile(run: SuiteRun) -> None:
    """The CLI keeps ini files out (`-c os.devnull`): pytest's header must not show `configfile: ../dev/null`."""
    assert run.stdout.startswith("=")  # pytest's header is there
    assert "rootdir: " in run.stdout
    assert not [line for line in run.stdout.splitlines() if "configfile" in line or "devnull" in line]


def test_one_progress_line_per_check(run: SuiteRun) -> None:
    lines = [m for m in map(PROGRESS.fullmatch, run.stdout.splitlines()) if m]
    assert [m["name"] for m in lines] == list(CHECKS)
    assert {m["layer"] for m in lines} == {"properties"}
    assert {m["outcome"] for m in lines} == {"pass"}
    assert sum(int(m["requests"]) for m in lines) <= run.report["requests"]
    assert all(int(m["requests"]) > 0 for m in lines)


def test_running_counts_come_during_the_checks_only(run: SuiteRun) -> None:
    """Written past pytest's capture while a check runs; after the last check, the clean-up's one line."""
    lines = run.stdout.splitlines()
    last = max(i for i, line in enumerate(lines) if PROGRESS.fullmatch(line))
    counts = [line for line in lines[:last] if re.fullmatch(r"  \.\.\. \d+ requests so far", line)]
    assert counts, "no running count while the checks ran (this run sends over 1000 requests)"
    values = [int(line.split()[1]) for line in counts]
    assert values == sorted(set(values)), values
    assert not [line for line in lines[last:] if "so far" in line]
    ledger = run.report["ledger"]
    calls = ledger["deleted"] + ledger["cancelled"] + len(ledger["leftovers"])
    assert [line for line in lines if "cleaning up" in line] == [
        f"  cleaning up: {calls} of the suite's calls still on the target"
    ]


def test_the_last_words_are_the_verdict(run: SuiteRun) -> None:
    verdicts = [line for line in run.stdout.splitlines() if line.startswith("verdict: ")]
    assert len(verdicts) == 1, verdicts
    report = run.report
    requests = f"{report['requests']} of {report['max_requests']} requests ({report['throttled']} throttled)"
    expected = f"verdict: INCOMPLETE (exit {EXIT_CODES['incomplete']}) · {requests} · "
    assert verdicts[0].startswith(expected), verdicts[0]
    assert verdicts[0].endswith(f"reports in {run.report_dir}/")


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--budget", "huge"], "--budget takes smoke (300 requests), quick"),
        (["--timeout", "nan"], "--timeout must be a positive number of seconds"),
        (["--target-url", "http://127.0.0.1:abc"], "--target-url must be an http(s) URL"),
        (["-k", "no_check_is_called_this"], "-k 'no_check_is_called_this' selects none of the suite's checks"),
        (["-k", "repeat_delete", "--shard", "2/2"], "shard 2/2 has none of the checks to run; use fewer shards"),
        (
            ["--shard", "1/2", "--workers", "2"],
            "--shard K/N runs share K of the checks in this process; drop --workers",
        ),
        (["--shard", "2/1"], "argument --shard: expected K/N with 1 <= K <= N, got '2/1'"),
        (["-k", "no_check_is_called_this", "--workers", "2"], "-k selects none of the suite's checks; drop it"),
    ],
    ids=[
        *("bad budget", "NaN timeout", "port not a number", "-k selects nothing"),
        *("empty shard", "shard and workers", "shard beyond N", "workers' -k selects nothing"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_4(tmp_path: Path, args: list[str], mentions: str) -> None:
    run = run_suite(args, tmp_path / "reports")
    assert run.returncode == 4, run.describe()
    assert run.stdout == "", "pytest's header (or more) came with the usage error"
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("husky-conformance: ")
    assert mentions in run.stderr
    assert "Traceback" not in run.output


PASSWORD = "pw-" + "S3cr3t-in-the-url"


def _refused_before_sending(tmp_path: Path, args: list[str], mentions: str) -> SuiteRun:
    """A usage error (exit 4, one line) before any request reaches the target given in `args`."""
    with RawServer(lambda sock, head: None) as server:
        run = run_suite([a.replace("TARGET", server.url.removeprefix("http://")) for a in args], tmp_path / "reports")
    assert run.returncode == 4, run.describe()
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("husky-conformance: ")
    assert mentions in run.stderr
    assert server.heads == [], "a request went out before the usage error"
    return run


@pytest.mark.parametrize(
    "userinfo",
    ["user:PASSWORD@", ":PASSWORD@", "user@", "user:PASSWORD@with@at@"],
    ids=["user:password", "password", "user", "@ in it"],
)
def test_a_target_url_with_a_user_or_password_is_refused_unseen(tmp_path: Path, userinfo: str) -> None:
    run = _refused_before_sending(
        tmp_path, ["--target-url", f"http://{userinfo.replace('PASSWORD', PASSWORD)}TARGET/api"], "must not hold a user"
    )
    assert "http://[REDACTED]@127.0.0.1:" in run.stderr
    assert "S3cr3t" not in run.output
    assert not (tmp_path / "reports").exists()


def test_a_malformed_target_url_hides_its_password_too(tmp_path: Path) -> None:
    run = run_suite(["--target-url", f"http://user:{PASSWORD}@127.0.0.1:port/api"], tmp_path / "reports")
    assert run.returncode == 4, run.describe()
    assert "--target-url must be an http(s) URL" in run.stderr
    assert "S3cr3t" not in run.output


@pytest.mark.parametrize("where", ["file", "file/reports"], ids=["a file", "inside a file"])
def test_a_report_dir_that_cannot_be_a_directory_is_refused_before_sending(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("not a directory\n")
    args = ["--target-url", "http://TARGET", "--report-dir", str(tmp_path / where)]
    _refused_before_sending(tmp_path, args, f"--report-dir {tmp_path / where} ")
    assert (tmp_path / "file").read_text() == "not a directory\n"


def test_requirements_lists_the_catalogue() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "requirements"],
        env=suite_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split()[0] for line in done.stdout.splitlines()[2:-1]]
    assert len(rows) >= 30
    assert rows == [r.id for r in REQUIREMENTS]
    musts = sum(r.level == "MUST" for r in REQUIREMENTS)
    assert done.stdout.splitlines()[-1] == f"{len(rows)} requirements: {musts} MUST, {len(rows) - musts} SHOULD"


def test_the_directory_it_runs_in_changes_nothing(tmp_path: Path) -> None:
    """A project's own pytest.ini and tests/conftest.py where the suite is run are not the suite's."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("raise RuntimeError('not the suite conftest')\n")
    run = run_suite(["--budget", "quick", "-k", "repeat_delete"], tmp_path / "reports")
    run.assert_exit_matches_verdict()
    assert "not the suite conftest" not in run.stdout + run.stderr
    assert run.report["requirements"][0]["checks"] > 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_ctrl_c_ends_the_run_incomplete_with_its_calls_cleaned_up(workers: str, tmp_path: Path) -> None:
    """SIGINT to the run's whole process group, as a Ctrl-C at the terminal sends it: the bundled
    mock (a session of its own) keeps serving, and the run stops, cleans up what it made and reports
    INCOMPLETE; never a failure, never a pass."""
    report_dir, output = tmp_path / "reports", tmp_path / "output.txt"
    command = [sys.executable, "-m", "conformance.cli", "run", *QUICK_PROPERTIES, "--workers", workers]
    with output.open("w") as sink:
        process = subprocess.Popen(
            [*command, "--report-dir", str(report_dir)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=suite_env({"PYTHONUNBUFFERED": "1"}),  # each check's line in the file as it is printed
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while "  [properties]" not in output.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(60) == 2, output.read_text()
    report = json.loads((report_dir / "report.json").read_text())
    assert report["verdict"] == "incomplete"
    assert any("interrupted (Ctrl-C)" in error for error in report["suite_errors"]), report["suite_errors"]
    assert report["ledger"]["leftovers"] == [], output.read_text()
    assert [r["id"] for r in report["requirements"] if r["failures"]] == [], output.read_text()
