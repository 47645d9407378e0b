"""The run's reports: `report.json`, `junit.xml` (one test case per requirement), `summary.md`
(a pass/fail matrix for a CI summary), and the final table on the terminal. All of it is redacted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from .requirements import REQUIREMENTS, Requirement
from .results import EXIT_CODES, Results, Verdict

if TYPE_CHECKING:
    from .session import SuiteSession

__all__ = ["build", "final_table", "finish"]

MARKS = {"pass": "✅ pass", "fail": "❌ FAIL", "warn": "⚠️ warn", "not_exercised": "➖ not exercised"}


def _verdict(suite: SuiteSession) -> Verdict:
    verdict = suite.ctx.results.verdict(strict=suite.config.strict)
    return "incomplete" if verdict == "pass" and suite.suite_errors else verdict


def _mark(results: Results, requirement: Requirement, strict: bool) -> str:
    status = results.status(requirement.id)
    if status == "fail" and requirement.level == "SHOULD" and not strict:
        return "warn"
    return status


def build(suite: SuiteSession) -> dict[str, Any]:
    from . import CONTRACT_VERSION, __version__

    results = suite.ctx.results
    secrets = suite.ctx.client.secrets
    return {
        "verdict": _verdict(suite),
        "target": secrets.redact(suite.target),
        "seed": suite.config.seed,
        "suite_version": __version__,
        "contract_version": CONTRACT_VERSION,
        "budget": suite.config.budget.name,
        "strict": suite.config.strict,
        "requests": suite.ctx.client.requests,
        "throttled": suite.ctx.client.throttled,
        "duration_s": round(suite.duration, 2),
        "suite_errors": [secrets.redact(e) for e in suite.suite_errors],
        "requirements": [
            {
                "id": r.id,
                "level": r.level,
                "statement": r.statement,
                "section": r.section,
                "status": results.status(r.id),
                "checks": results.checks[r.id],
                "failures": [
                    {"message": f.message, "reproduction": f.reproduction} for f in results.failures.get(r.id, [])
                ],
                **(
                    {"reason": results.not_exercised.get(r.id, "no check reached it")}
                    if not results.checks[r.id]
                    else {}
                ),
            }
            for r in REQUIREMENTS
        ],
    }


def _junit(data: dict[str, Any], strict: bool) -> ET.ElementTree[ET.Element]:
    suite = ET.Element("testsuite", name="huskyvoice-conformance", time=str(data["duration_s"]))
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for r in data["requirements"]:
        counts["tests"] += 1
        case = ET.SubElement(
            suite, "testcase", classname=f"conformance.{r['level']}", name=f"{r['id']}: {r['statement']}"
        )
        text = "\n\n".join(f"{f['message']}\n{f['reproduction']}" for f in r["failures"])
        if r["status"] == "fail" and (r["level"] == "MUST" or strict):
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=r["failures"][0]["message"]).text = text
        elif r["status"] == "fail":
            ET.SubElement(case, "system-err").text = f"SHOULD not met (a warning; fails under --strict)\n{text}"
        elif r["status"] == "not_exercised":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"not exercised: {r.get('reason', '')}")
    suite.attrib.update({k: str(v) for k, v in counts.items()})
    ET.indent(suite)
    return ET.ElementTree(suite)


def _summary(data: dict[str, Any], strict: bool) -> str:
    lines = [
        f"# HuskyVoice conformance: **{data['verdict'].upper()}**",
        "",
        f"Target `{data['target']}` · seed {data['seed']} · budget {data['budget']} · contract"
        f" {data['contract_version']} · {data['requests']} requests · {data['duration_s']} s",
        "",
        "| Requirement | Level | § | Status | Checks | Statement |",
        "|---|---|---|---|---|---|",
    ]
    for r in data["requirements"]:
        mark = "warn" if r["status"] == "fail" and r["level"] == "SHOULD" and not strict else r["status"]
        statement = r["statement"].replace("|", "\\|")
        lines.append(f"| `{r['id']}` | {r['level']} | {r['section']} | {MARKS[mark]} | {r['checks']} | {statement} |")
    failed = [r for r in data["requirements"] if r["failures"]]
    if failed:
        lines += ["", "## Failures", ""]
        for r in failed:
            for f in r["failures"]:
                lines += [
                    f"### `{r['id']}` ({r['level']}): {f['message']}",
                    "",
                    "```sh",
                    f["reproduction"],
                    "```",
                    "",
                ]
    return "\n".join(lines) + "\n"


def finish(suite: SuiteSession) -> int:
    """Write the three reports into the report directory; the exit code of the verdict."""
    data = build(suite)
    directory = Path(suite.config.report_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _junit(data, suite.config.strict).write(directory / "junit.xml", encoding="utf-8", xml_declaration=True)
    (directory / "summary.md").write_text(_summary(data, suite.config.strict), encoding="utf-8")
    return EXIT_CODES[data["verdict"]]


def final_table(suite: SuiteSession) -> str:
    results, strict = suite.ctx.results, suite.config.strict
    width = max(len(r.id) for r in REQUIREMENTS)
    lines = ["", f"{'requirement':<{width}}  level   status           checks"]
    for r in REQUIREMENTS:
        mark = _mark(results, r, strict)
        lines.append(f"{r.id:<{width}}  {r.level:<6}  {MARKS[mark]:<16} {results.checks[r.id]:>6}")
        for failure in results.failures.get(r.id, [])[:2]:
            lines.append(f"{'':<{width}}    {failure.message}")
    verdict = _verdict(suite)
    lines.append(
        f"verdict: {verdict.upper()} (exit {EXIT_CODES[verdict]}) · {suite.ctx.client.requests} requests"
        f" · {suite.duration:.1f} s · reports in {suite.config.report_dir}/"
    )
    return "\n".join(lines)
