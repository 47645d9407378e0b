"""Reproductions that reproduce: the replay line under a failure, run as printed, fails the same way."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from suite_runs import run_suite, suite_env

from conformance.config import SuiteConfig, build_config
from conformance.layers.replay_line import replay_command
from conformance.mock import MockConfig, MockServer

TOKEN = "reproduction-fixtures-token"
MARK = "# replay the run: "


def _replay_line(report: dict[str, Any], requirement: str) -> str:
    (found,) = [r for r in report["requirements"] if r["id"] == requirement]
    lines = found["failures"][0]["reproduction"].splitlines()
    (line,) = [line for line in lines if line.startswith(MARK)]
    return str(line).removeprefix(MARK)


def _failed(report: dict[str, Any]) -> set[str]:
    return {r["id"] for r in report["requirements"] if r["failures"]}


def test_a_printed_replay_line_runs_the_same_run_again(tmp_path: Path) -> None:
    with MockServer(MockConfig(fixtures_token=TOKEN, faults=frozenset({"repeat-delete-200"}))) as server:
        args = ["--target-url", server.url, "--seed", "7", "--budget", "quick"]
        first = run_suite(args, tmp_path / "first", {"HUSKY_FIXTURES_TOKEN": TOKEN})
        assert first.returncode == 1, first.describe()
        line = _replay_line(first.report, "DEL-REPEAT-404")
        command, _, needs = line.partition("   # with ")
        assert TOKEN not in line
        assert needs == "HUSKY_FIXTURES_TOKEN set as for this run"
        words = shlex.split(command)
        assert words[:2] == ["husky-conformance", "run"]
        assert words[2:4] == ["--target-url", server.url]
        assert words[4:8] == ["--seed", "7", "--budget", "quick"]
        again = tmp_path / "again"
        env = suite_env({"HUSKY_FIXTURES_TOKEN": TOKEN})
        done = subprocess.run(
            [sys.executable, "-m", "conformance.cli", *words[1:], "--report-dir", str(again)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    replayed = json.loads((again / "report.json").read_text())
    assert _failed(replayed) == _failed(first.report)
    assert replayed["requests"] == first.report["requests"]


def _config(**given: Any) -> SuiteConfig:
    defaults: dict[str, Any] = {
        "target_url": None,
        "fixtures_token": None,
        "report_dir": "reports",
        "seed": None,
        "budget": "default",
        "strict": False,
        "timeout": 10.0,
        "env": {},
    }
    return build_config(**(defaults | given))


def test_the_replay_line_names_what_changes_the_run_and_no_secret() -> None:
    embedded = replay_command(_config(seed=5))
    assert embedded == "husky-conformance run --seed 5 --budget default"
    env = {"HUSKY_API_KEY": "sk_secret_a", "HUSKY_API_KEY_B": "sk_secret_b", "HUSKY_WEBHOOK_TOKEN": "wh_secret"}
    remote = replay_command(
        _config(target_url="https://staging.example/api", budget="250", strict=True, allow_destructive=True, env=env)
    )
    assert "secret" not in remote
    command, _, needs = remote.partition("   # with ")
    assert shlex.split(command) == [
        *("husky-conformance", "run", "--target-url", "https://staging.example/api", "--seed", "20261201"),
        *("--budget", "250", "--strict", "--allow-destructive", "--seeder", "api", "--wait-completed", "0"),
    ]
    assert needs == "HUSKY_API_KEY, HUSKY_API_KEY_B, HUSKY_WEBHOOK_TOKEN set as for this run"
