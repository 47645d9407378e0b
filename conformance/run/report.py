"""The run's reports: `report.json`, `junit.xml` (one test case per requirement), `summary.md`
(a pass/fail matrix for a CI summary), `report.html` (`html_report`, for people), and the final
table on the terminal. All of it is redacted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from conformance.contract._resources import CONTRACT, contract_links, spec_path
from conformance.contract.requirements import REQUIREMENTS, Requirement
from conformance.layers.results import Results
from conformance.layers.verdict import EXIT_CODES, Verdict, gates, judge, shown, verdict_text
from conformance.run import html_report
from conformance.run.report_data import Ledger, Report, RequirementResult, from_json

if TYPE_CHECKING:
    from conformance.run.session import SuiteSession

__all__ = ["build", "final_table", "finish", "plan_table", "table", "verdict_line", "verdict_text", "write"]

MARKS = {"pass": "✅ pass", "fail": "❌ FAIL", "warn": "⚠️ warn", "not_exercised": "➖ not exercised"}


def _verdict(suite: SuiteSession) -> Verdict:
    results = suite.ctx.results
    return judge(
        {r.id: results.status(r.id) for r in REQUIREMENTS},
        strict=suite.config.strict,
        out_of_scope=results.out_of_scope,
        suite_errors=bool(suite.suite_errors),
        replay=suite.config.replay,
    )


def _leftovers(suite: SuiteSession) -> list[dict[str, Any]]:
    return suite.cleanup.leftovers if suite.cleanup is not None else []


def verdict_line(suite: SuiteSession) -> str:
    return verdict_text(_verdict(suite), len(_leftovers(suite)))


def build(suite: SuiteSession) -> Report:
    """The typed report of a finished run (redacted)."""
    from conformance import CONTRACT_VERSION, __version__

    secrets = suite.ctx.client.secrets
    client, config = suite.ctx.client, suite.config
    ledger = suite.cleanup.as_json(len(suite.ctx.env.ledger.entries)) if suite.cleanup else None
    return Report(
        verdict=_verdict(suite),
        verdict_text=verdict_line(suite),
        target=secrets.redact(suite.target),
        seed=config.seed,
        suite_version=__version__,
        contract_version=CONTRACT_VERSION,
        contract=spec_path(CONTRACT).as_uri(),  # the section column links into it
        budget=config.budget.name,
        max_requests=config.max_requests,
        strict=config.strict,
        requests=client.requests,
        throttled=client.throttled,
        rate_limit_per_minute=client.pacer.interval and round(60 / client.pacer.interval, 3),
        destructive=suite.ctx.env.guard.destructive_allowed,
        seeder=suite.ctx.env.seeder.name,
        duration_s=round(suite.duration, 2),
        suite_errors=tuple(secrets.redact(e) for e in suite.suite_errors),
        ledger=from_json(Ledger, ledger) if ledger is not None else None,
        leftovers=len(_leftovers(suite)),
        requirements=tuple(_requirement(suite.ctx.results, r) for r in REQUIREMENTS),
        bundled_mock=suite.mock is not None,
        replay=config.replay,
        shard=suite.shard,
    )


def _requirement(results: Results, r: Requirement) -> RequirementResult:
    unexercised = results.out_of_scope.get(r.id) or results.not_exercised.get(r.id, "no check reached it")
    return RequirementResult(
        id=r.id,
        level=r.level,
        statement=r.statement,
        section=r.section,
        status=results.status(r.id),
        checks=results.checks[r.id],
        failures=tuple(results.failures.get(r.id, [])),
        reason=None if results.checks[r.id] else unexercised,
        out_of_scope=r.id in results.out_of_scope,
    )


def _junit(report: Report) -> ET.ElementTree[ET.Element]:
    suite = ET.Element("testsuite", name="huskyvoice-conformance", time=str(report.duration_s))
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for r in report.requirements:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=f"conformance.{r.level}", name=f"{r.id}: {r.statement}")
        text = "\n\n".join(f"{f.message}\n{f.reproduction}" for f in r.failures)
        if r.status == "fail" and gates(r.level, strict=report.strict):
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=r.failures[0].message).text = text
        elif r.status == "fail":
            ET.SubElement(case, "system-err").text = f"SHOULD not met (a warning; fails under --strict)\n{text}"
        elif r.status == "not_exercised":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"not exercised: {r.reason or ''}")
    suite.attrib.update({k: str(v) for k, v in counts.items()})
    ET.indent(suite)
    return ET.ElementTree(suite)


def _section_links(sections: str, contract: str) -> str:
    """`5` as a link to section 5 of the contract the run checked, `1,5,6` as three."""
    return ",".join(f"[{s}]({url})" for s, url in contract_links(sections, contract))


def _summary(report: Report) -> str:
    lines = [
        f"# HuskyVoice conformance: **{report.verdict_text}**",
        "",
        f"Target `{report.target}` · seed {report.seed} · budget {report.budget} · contract"
        f" {report.contract_version} · {report.requests} requests ({report.throttled} throttled)"
        f" · {report.duration_s} s",
        "",
        "| Requirement | Level | § | Status | Checks | Statement |",
        "|---|---|---|---|---|---|",
    ]
    for r in report.requirements:
        mark = shown(r.status, r.level, strict=report.strict)
        statement = r.statement.replace("|", "\\|")
        where = _section_links(r.section, report.contract)
        lines.append(f"| `{r.id}` | {r.level} | {where} | {MARKS[mark]} | {r.checks} | {statement} |")
    failed = [r for r in report.requirements if r.failures]
    if failed:
        lines += ["", "## Failures", ""]
        for r in failed:
            for f in r.failures:
                lines += [f"### `{r.id}` ({r.level}): {f.message}", "", "```sh", f.reproduction, "```", ""]
    return "\n".join(lines) + "\n"


def finish(suite: SuiteSession) -> int:
    """Write the reports into the report directory; the exit code of the verdict.

    A dry run writes its plan instead (`plan.json`) and exits 0: it judged nothing.
    """
    directory = Path(suite.config.report_dir)
    directory.mkdir(parents=True, exist_ok=True)
    if suite.planned is not None:
        (directory / "plan.json").write_text(json.dumps(plan(suite), indent=2) + "\n", encoding="utf-8")
        return 0
    return write(build(suite), directory)


def write(report: Report, directory: Path) -> int:
    """report.json, junit.xml, summary.md and report.html of `report` (one run's, or joined ones'); its exit code."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report.to_json(), indent=2, ensure_ascii=False)
    (directory / "report.json").write_text(text + "\n", encoding="utf-8")
    _junit(report).write(directory / "junit.xml", encoding="utf-8", xml_declaration=True)
    (directory / "summary.md").write_text(_summary(report), encoding="utf-8")
    (directory / "report.html").write_text(html_report.render(report), encoding="utf-8")
    return EXIT_CODES[report.verdict]


def final_table(suite: SuiteSession) -> str:
    return table(build(suite), report_dir=suite.config.report_dir)


def table(report: Report, *, report_dir: Path) -> str:
    """The terminal's closing table of a report (a run's, or joined ones')."""
    width = max(len(r.id) for r in REQUIREMENTS)
    lines = ["", f"{'requirement':<{width}}  level   status           checks"]
    for r in report.requirements:
        mark = shown(r.status, r.level, strict=report.strict)
        lines.append(f"{r.id:<{width}}  {r.level:<6}  {MARKS[mark]:<16} {r.checks:>6}")
        lines += [f"{'':<{width}}    {failure.message}" for failure in r.failures[:2]]
    budget = f" of {report.max_requests}" if report.max_requests else ""
    lines.append(
        f"verdict: {report.verdict_text} (exit {EXIT_CODES[report.verdict]}) · {report.requests}{budget} requests"
        f" ({report.throttled} throttled) · {report.duration_s:.1f} s · reports in {report_dir}/"
    )
    return "\n".join(lines)


def plan(suite: SuiteSession) -> dict[str, Any]:
    """What a run with these options would do: each check, its requests, and what it could not do."""
    assert suite.planned is not None
    planned, requests = suite.planned, suite.ctx.client.requests
    rate = planned.rate_limit
    return {
        "target": suite.ctx.client.secrets.redact(suite.target),
        "seed": planned.seed,
        "budget": planned.budget.name,
        "max_requests": planned.max_requests,
        "requests": requests,
        "rate_limit_per_minute": rate,
        "minutes_at_rate": round(requests / rate, 1) if rate else None,
        "destructive": suite.ctx.env.guard.destructive_allowed,
        "seeder": planned.seeder,
        "checks": suite.items,
        "not_exercised": sorted(r.id for r in REQUIREMENTS if suite.ctx.results.status(r.id) == "not_exercised"),
        "note": "measured against the bundled mock with the fixtures seeder; another seeder or target may send more",
    }


def plan_table(suite: SuiteSession) -> str:
    data = plan(suite)
    lines = ["", f"DRY RUN: the plan for {data['target']} (nothing was sent to it)", ""]
    for item in data["checks"]:
        outcome = "planned" if item["outcome"].startswith(("pass", "FAIL", "warn")) else item["outcome"]
        why = f" ({item['reason']})" if item["reason"] else ""
        lines.append(f"  [{item['layer']:<10}] {item['name']:<46} {item['requests']:>6} requests  {outcome}{why}")
    pace = (
        f", about {data['minutes_at_rate']} minutes at {data['rate_limit_per_minute']:g}/min"
        if data["rate_limit_per_minute"]
        else ""
    )
    cap = f" (budget {data['max_requests']})" if data["max_requests"] else ""
    destructive = "on" if data["destructive"] else "off (--allow-destructive)"
    lines.append(f"about {data['requests']} requests{cap}{pace}; cancels and deletes: {destructive}")
    if data["not_exercised"]:
        lines.append(f"not exercised: {', '.join(data['not_exercised'])}")
    lines.append(f"({data['note']}; plan.json in {suite.config.report_dir}/)")
    return "\n".join(lines)
