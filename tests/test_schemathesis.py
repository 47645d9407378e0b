"""Stock schemathesis (`st run`) against the mock on a real uvicorn: every check, every phase
(examples, coverage, fuzzing, stateful), positive and negative generation, zero failures.

The organisation is seeded through the fixtures API; a `schemathesis.toml` dictionary makes half
of the generated `call_id`s and most webhook tokens real ones, so deletes and the webhook reach
the contract's logic instead of only its 401s and 404s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.contract._resources import spec_path
from conformance.mock import MockConfig, MockServer
from conformance.target.fixtures_client import FixturesClient

pytestmark = pytest.mark.schemathesis

TOKEN = "schemathesis-fixtures-token"
SEEDED_STATES = ["queued", "initiated", "ringing", "in_progress", "failed", "cancelled"] + ["completed"] * 8


@pytest.fixture
def server() -> Iterator[MockServer]:
    """A mock of its own: fuzzing deletes and cancels what it finds."""
    with MockServer(MockConfig(fixtures_token=TOKEN)) as mock:
        yield mock


def _seed(url: str) -> tuple[str, str, list[str]]:
    with httpx.Client(base_url=url) as http:
        fixtures = FixturesClient(http, TOKEN)
        org = fixtures.org()
        ids = [
            fixtures.call(org, status, contact_name=f"Seeded {n}")["call_id"] for n, status in enumerate(SEEDED_STATES)
        ]
        return fixtures.key(org), org.webhook_token, ids


def _config(tmp_path: Path, token: str, call_ids: list[str]) -> Path:
    path = tmp_path / "schemathesis.toml"
    path.write_text(
        "\n".join(
            [
                "seed = 20261201",
                "[generation]",
                'database = "none"',
                "[dictionaries.call_ids]",
                f"values = {json.dumps(call_ids)}",
                "[dictionaries.tokens]",
                f"values = [{json.dumps(token)}]",
                "[parameters]",
                '"path.call_id" = { dictionary = "call_ids", probability = 0.5 }',
                '"path.token" = { dictionary = "tokens", probability = 0.8 }',
            ]
        )
        + "\n"
    )
    return path


@pytest.mark.parametrize("header", ["Authorization: Bearer {key}", "x-api-key: {key}"])
def test_stock_schemathesis_finds_nothing(server: MockServer, tmp_path: Path, header: str) -> None:
    key, token, call_ids = _seed(server.url)
    config = _config(tmp_path, token, call_ids)
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file", str(config),
        "run", str(spec_path()),
        "--url", server.url,
        "--header", header.format(key=key),
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--mode", "all",
        "--max-examples", "25",
        "--no-color",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "No issues found" in report or " passed" in report, report
    assert "failed" not in report.split("SUMMARY")[-1], report
    assert key not in report  # schemathesis filters the header in its reproductions
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report
