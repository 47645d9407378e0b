"""When the suite itself fails: a bug of its own, neither the target's (exit 1) nor the user's (exit 4).

Exit code 3, one line on stderr without a traceback or a secret, and the details (the traceback,
without local variables, every known secret redacted) in `report.json` when it can still be
written. The calls the run created are still cleaned up first (`conformance.plugin`).
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.errors import SUITE_FAILED
from conformance.http.redaction import Secrets

__all__ = ["SUITE_FAILED", "fail", "known_secrets", "summary"]

MAX_SUMMARY = 300  # characters of the error's message on the one line


def known_secrets(env: Mapping[str, str], fixtures_token: str | None = None) -> Secrets:
    """Every secret the process knows: each store's, the `HUSKY_*` variables and the fixtures token."""
    found = Secrets.known()
    for name, value in env.items():
        if name.startswith("HUSKY_"):
            found.add(value, name)
    found.add(fixtures_token, "HUSKY_FIXTURES_TOKEN")
    return found


def summary(error: BaseException, secrets: Secrets) -> str:
    """`KeyError: 'x'`: the error in one redacted line."""
    text = secrets.redact(f"{type(error).__name__}: {error}")
    first = text.splitlines()[0] if text.strip() else type(error).__name__
    return first if len(first) <= MAX_SUMMARY else first[: MAX_SUMMARY - 3] + "..."


def _details(error: BaseException, secrets: Secrets) -> list[str]:
    return [secrets.redact(line) for line in "".join(traceback.format_exception(error)).splitlines()]


def _write(directory: Path, error: BaseException, secrets: Secrets, data: dict[str, Any] | None) -> Path | None:
    """report.json with the crash in it (and what the run judged so far, `data`); None if it cannot be written."""
    report = dict(data or {}) | {
        "verdict": "error",
        "exit_code": SUITE_FAILED,
        "suite_failed": summary(error, secrets),
        "details": _details(error, secrets),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "report.json"
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except (OSError, TypeError, ValueError):
        return None
    return path


def fail(error: BaseException, secrets: Secrets, directory: Path | None, data: dict[str, Any] | None = None) -> int:
    """Report `error` as the suite's own failure (report.json in `directory`, one line on stderr); exit 3."""
    written = _write(directory, error, secrets, data) if directory is not None else None
    where = f"details in {written}" if written else "no report could be written"
    print(f"husky-conformance: the suite itself failed ({summary(error, secrets)}); {where}", file=sys.stderr)
    return SUITE_FAILED
