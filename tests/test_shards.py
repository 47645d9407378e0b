"""Runs split across machines: two shards (`--slice 1/2`, `--slice 2/2`, what `run --shard K/N`
passes to the suite) joined by `husky-conformance merge` judge as one run of the same seed, against
the bundled mock and against a faulty one; every report fits the published schema; and `merge`
refuses, with one line and exit 4, folders that are not the shards of one run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from suite_runs import RUN_SECONDS, assert_fits_schema, suite_env

from conformance.cli import main
from conformance.layers.verdict import EXIT_CODES
from conformance.mock import MockConfig, MockServer
from conformance.run.report_data import Report

ARGS = ["--budget", "quick", "--seed", "7"]
FAULT = "repeat-delete-200"  # breaks DEL-REPEAT-404, which a targeted property checks every run


def _command(args: Sequence[str], report_dir: Path, shard: str | None) -> list[str]:
    """The suite's pytest command line, as `husky-conformance run` makes it, for one shard or the whole run."""
    words = ["--pyargs", "conformance.suite", "-p", "no:cacheprovider", "-c", os.devnull, "--noconftest"]
    words += ["--rootdir", str(report_dir.parent), "--report-dir", str(report_dir), *args]
    return [sys.executable, "-m", "pytest", *words, *(["--slice", shard] if shard else [])]


@dataclass
class Split:
    """One run of the suite whole, the same run as two shards, and their merge."""

    whole: dict[str, Any]
    whole_code: int
    shards: list[Path]
    merged: dict[str, Any]
    merged_code: int


def _split(base: Path, args: Sequence[str]) -> Split:
    folders = {None: base / "whole" / "reports", "1/2": base / "one" / "reports", "2/2": base / "two" / "reports"}
    processes = {}
    for shard, folder in folders.items():
        folder.parent.mkdir(parents=True)
        with (folder.parent / "output.txt").open("w", encoding="utf-8") as output:  # the child keeps its copy
            processes[shard] = subprocess.Popen(
                _command(args, folder, shard), cwd=folder.parent, env=suite_env(), stdout=output, stderr=output
            )
    try:
        for shard, process in processes.items():
            code = process.wait(timeout=RUN_SECONDS * 3)
            output = (folders[shard].parent / "output.txt").read_text(encoding="utf-8")
            assert code in EXIT_CODES.values(), f"{shard}: exit {code}\n{output[-3000:]}"
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    shards, merged = [folders["1/2"], folders["2/2"]], base / "merged"
    code = main(["merge", *map(str, reversed(shards)), "--report-dir", str(merged)])  # any order
    whole_code = processes[None].returncode
    return Split(_read(folders[None]), whole_code, shards, _read(merged), code)


def _read(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def mock_split(tmp_path_factory: pytest.TempPathFactory) -> Split:
    return _split(tmp_path_factory.mktemp("mock"), ARGS)


@pytest.fixture(scope="module")
def faulty_split(tmp_path_factory: pytest.TempPathFactory) -> Split:
    token = "fixtures-shards"
    with MockServer(MockConfig(fixtures_token=token, faults=frozenset({FAULT}))) as server:
        return _split(tmp_path_factory.mktemp("faulty"), [*ARGS, "--target-url", server.url, "--fixtures-token", token])


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in report["requirements"]}


@pytest.mark.parametrize(("split", "verdict"), [("mock_split", "pass"), ("faulty_split", "fail")])
def test_two_shards_merged_judge_as_one_run(split: str, verdict: str, request: pytest.FixtureRequest) -> None:
    found: Split = request.getfixturevalue(split)
    assert found.merged["verdict"] == found.whole["verdict"] == verdict
    assert found.merged_code == found.whole_code == EXIT_CODES[verdict]
    assert _statuses(found.merged) == _statuses(found.whole)
    assert found.merged["shards"] == 2
    assert "shard" not in found.merged
    if verdict == "fail":
        assert _statuses(found.merged)["DEL-REPEAT-404"] == "fail"


def test_the_merge_adds_up_the_shards(mock_split: Split) -> None:
    parts = [_read(folder) for folder in mock_split.shards]
    assert [p["shard"] for p in parts] == [{"index": 1, "count": 2}, {"index": 2, "count": 2}]
    assert mock_split.merged["requests"] == sum(p["requests"] for p in parts)
    for index, merged in enumerate(mock_split.merged["requirements"]):
        assert merged["checks"] == sum(p["requirements"][index]["checks"] for p in parts), merged["id"]
        assert merged["checks"] > 0 or merged["status"] == "not_exercised"
        for axis, values in merged["dimensions"].items():  # what the shards covered, together
            assert values == sorted({v for p in parts for v in p["requirements"][index]["dimensions"][axis]}), axis
    # Some requirement was judged along values each shard had and the other had not: a union, not a copy.
    assert any(
        all(p["requirements"][index]["dimensions"] != merged["dimensions"] for p in parts)
        for index, merged in enumerate(mock_split.merged["requirements"])
    )
    assert all(0 < p["requests"] < mock_split.merged["requests"] for p in parts)  # each ran a part of the checks
    assert mock_split.merged["ledger"]["created"] == sum(p["ledger"]["created"] for p in parts)
    merged = mock_split.shards[0].parent.parent / "merged"
    for name in ("junit.xml", "summary.md", "report.html", "ledger.jsonl"):
        assert (merged / name).exists(), name


def test_the_schema_layer_reports_what_it_judged(mock_split: Split) -> None:
    dims = {r["id"]: r["dimensions"] for r in mock_split.whole["requirements"]}["SCHEMA-RESPONSES"]
    assert dims["transport"] == ["REST", "webhook"]
    assert {"GET", "POST", "DELETE"} <= set(dims["method"])
    assert {"Authorization: Bearer", "webhook token"} <= set(dims["credential"])
    assert {"never existed", "none (a create)", "completed"} <= set(dims["call_state"])


@pytest.mark.parametrize("split", ["mock_split", "faulty_split"])
def test_every_report_fits_the_published_schema(split: str, request: pytest.FixtureRequest) -> None:
    found: Split = request.getfixturevalue(split)
    for data in [found.whole, found.merged, *(_read(f) for f in found.shards)]:
        assert_fits_schema(data)
        assert Report.from_json(data).to_json() == data


# --- what merge refuses ----------------------------------------------------------------------


def _copies(split: Split, base: Path, edit: Callable[[list[dict[str, Any]]], None] | None = None) -> list[Path]:
    """Copies of the shards' report folders, their report.json changed by `edit`."""
    folders = []
    for n, folder in enumerate(split.shards, 1):
        copy = base / f"shard{n}"
        shutil.copytree(folder, copy)
        folders.append(copy)
    if edit is not None:
        data = [_read(f) for f in folders]
        edit(data)
        for folder, report in zip(folders, data, strict=True):
            (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return folders


def _merge(folders: Sequence[Path], out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["merge", *map(str, folders), "--report-dir", str(out)])
    return code, capsys.readouterr().err


def _set(index: int, **changes: Any) -> Callable[[list[dict[str, Any]]], None]:
    return lambda reports: reports[index].update(changes)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_set(1, seed=8), "they differ in seed (7 and 8)"),
        (_set(1, budget="default"), "they differ in budget (quick and default)"),
        (_set(1, contract_version="9.9.9"), "they differ in contract_version"),
        (
            lambda r: [p.update(bundled_mock=False, target=f"http://127.0.0.1:{n}") for n, p in enumerate(r, 1)],
            "they differ in target (http://127.0.0.1:1 and http://127.0.0.1:2)",
        ),
        (_set(1, shard={"index": 1, "count": 2}), "shard 1/2 is given twice"),
        (_set(1, shard={"index": 2, "count": 3}), "split the suite different ways (2 and 3)"),
        (lambda r: r[1].pop("shard"), "not a shard's report (made without --shard K/N)"),
        (_set(1, requirements="none"), "is not a report of this suite"),
    ],
    ids=["seed", "budget", "contract", "target", "duplicate", "counts", "unsharded", "not a report"],
)
def test_merge_refuses_what_is_not_one_run(
    mock_split: Split, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, expected: str
) -> None:
    code, err = _merge(_copies(mock_split, tmp_path, edit), tmp_path / "out", capsys)
    assert code == 4
    assert expected in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out" / "report.json").exists()


def test_merge_refuses_a_missing_shard(mock_split: Split, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _merge(_copies(mock_split, tmp_path)[:1], tmp_path / "out", capsys)
    assert (code, err.strip()) == (
        4,
        "husky-conformance: shard 2 of 2 is missing: merge needs the report folder of each",
    )


def test_merge_refuses_a_folder_without_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code, err = _merge([tmp_path / "empty"], tmp_path / "out", capsys)
    assert code == 4
    assert "holds no report.json" in err


def test_a_crashed_shard_is_the_suites_failure(
    mock_split: Split, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed = _set(0, verdict="error", suite_failed="KeyError: 'x'")
    code, err = _merge(_copies(mock_split, tmp_path, crashed), tmp_path / "out", capsys)
    assert code == 3
    assert "failed itself (KeyError: 'x'); run it again, then merge" in err


def test_merge_judges_again_with_strict(mock_split: Split, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A SHOULD failed in one shard: a warning; under `merge --strict`, the merged verdict fails."""

    def should_failed(reports: list[dict[str, Any]]) -> None:
        entry = next(r for r in reports[0]["requirements"] if r["level"] == "SHOULD")
        entry.update(status="fail", failures=[{"message": "m", "reproduction": "r"}])

    folders = _copies(mock_split, tmp_path, should_failed)
    assert _merge(folders, tmp_path / "lenient", capsys)[0] == 0
    capsys.readouterr()
    assert main(["merge", *map(str, folders), "--report-dir", str(tmp_path / "strict"), "--strict"]) == 1
    assert _read(tmp_path / "strict")["verdict"] == "fail"
