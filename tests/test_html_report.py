"""`report.html`: what `render` writes (every requirement, every failure and its reproduction, the
settings, the filters, escaping, no network), and a real failing run's page opened in headless
Chromium (skipped where none is installed; `.ci/run` installs Debian's)."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from suite_runs import SuiteRun, run_suite

from conformance.contract._resources import CONTRACT, contract_links, spec_path
from conformance.contract.requirements import REQUIREMENTS
from conformance.mock import MockConfig, MockServer
from conformance.run import html_report
from conformance.run.report_data import Report

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
CONTRACT_URI = spec_path(CONTRACT).as_uri()
HOSTILE = "<script>alert(1)</script>"
REPRODUCTION = (
    "curl -sS -X DELETE \"http://127.0.0.1:9/v1/calls/it's%20<b>\" -H 'Authorization: Bearer ${HUSKY_API_KEY}'"
    '   # -> 200\n# replay the run: husky-conformance run --seed 7 && echo "</pre></code>"'
)


class Page(HTMLParser):
    """A page's elements (tag and attributes, in order) and the text inside each element with an id."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[str, str] = {}
        self.first: dict[str, str] = {}  # the first piece of text inside each element with an id
        self._open: list[str | None] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag not in VOID:
            self._open.append(dict(attrs).get("id"))
            if self._open[-1]:
                self.texts[str(self._open[-1])] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element_id in filter(None, self._open):
            self.texts[element_id] += data
            self.first.setdefault(element_id, data)

    def all(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in wanted.items())]

    def rows(self) -> dict[str, dict[str, str | None]]:
        """The matrix's rows by requirement id (the text of the row's first cell)."""
        rows = [a for t, a in self.elements if t == "tr" and str(a.get("id", "")).startswith("req-")]
        return {self.first[str(a["id"])]: a for a in rows}


def report_data(*, failed: dict[str, list[dict[str, str]]] | None = None, strict: bool = False) -> dict[str, Any]:
    """Report data as `report.build` makes it: every requirement passes but those in `failed`."""
    failed = failed or {}
    requirements = [
        {
            "id": r.id,
            "level": r.level,
            "statement": r.statement,
            "section": r.section,
            "status": "fail" if r.id in failed else "pass",
            "checks": 3,
            "failures": failed.get(r.id, []),
        }
        for r in REQUIREMENTS
    ]
    return {
        "verdict": "fail" if failed else "pass",
        "verdict_text": "FAIL" if failed else "PASS",
        "target": "http://127.0.0.1:9",
        "seed": 7,
        "suite_version": "0.1.0",
        "contract_version": "1.1.0",
        "contract": CONTRACT_URI,
        "budget": "quick",
        "max_requests": 2000,
        "strict": strict,
        "requests": 321,
        "throttled": 0,
        "rate_limit_per_minute": 0.0,
        "destructive": True,
        "seeder": "fixtures",
        "duration_s": 1.5,
        "suite_errors": [],
        "ledger": None,
        "leftovers": 0,
        "requirements": requirements,
    }


def render(data: dict[str, Any]) -> str:
    """The page of report data as `report.json` holds it (read back into the typed report)."""
    return html_report.render(Report.from_json(data))


MUST = next(r for r in REQUIREMENTS if r.level == "MUST")
SHOULD = next(r for r in REQUIREMENTS if r.level == "SHOULD")


@pytest.fixture
def failing() -> dict[str, Any]:
    return report_data(
        failed={
            MUST.id: [{"message": HOSTILE, "reproduction": REPRODUCTION}, {"message": "second", "reproduction": "x"}],
            SHOULD.id: [{"message": "a SHOULD unmet", "reproduction": "curl y"}],
        }
    )


def test_every_requirement_is_a_row_with_its_level_status_and_checks(failing: dict[str, Any]) -> None:
    page = Page(render(failing))
    rows = page.rows()
    assert list(rows) == [r.id for r in REQUIREMENTS]
    for r in failing["requirements"]:
        text = page.texts[str(rows[r["id"]]["id"])]
        assert [r["statement"] in text, r["level"] in text, str(r["checks"]) in text] == [True] * 3, r["id"]


def test_the_verdict_and_the_settings_are_shown(failing: dict[str, Any]) -> None:
    page = Page(render(failing))
    assert page.texts["verdict"] == "FAIL"
    assert page.all("p", id="verdict")[0]["class"] == "verdict verdict-fail"
    settings = page.texts["settings"]
    for shown in ("Seed7", "Budgetquick", "Targethttp://127.0.0.1:9", "Requests sent321", "Contract version1.1.0"):
        assert shown in settings
    assert page.all("a", href=CONTRACT_URI)


def test_each_section_links_into_the_contract(failing: dict[str, Any]) -> None:
    hrefs = {a["href"] for a in Page(render(failing)).all("a")}
    for r in REQUIREMENTS:
        assert {url for _, url in contract_links(r.section, CONTRACT_URI)} <= hrefs, r.id


def test_each_failure_shows_its_message_and_reproduction_with_a_copy_button(failing: dict[str, Any]) -> None:
    page = Page(render(failing))
    failures = [(r, f) for r in failing["requirements"] for f in r["failures"]]
    sections = page.all("section")
    assert len(sections) == len(failures) == 3
    buttons = page.all("button", **{"class": "copy"})
    assert len(buttons) == 3
    copied = {page.texts[str(b["data-target"])] for b in buttons}
    assert copied == {f["reproduction"] for _, f in failures}  # the button copies exactly the reproduction
    for r, failure in failures:
        assert any(failure["message"] in page.texts[str(s["id"])] for s in sections if s["data-level"] == r["level"])


def test_failures_of_the_run_come_before_the_warnings(failing: dict[str, Any]) -> None:
    statuses = [s["data-status"] for s in Page(render(failing)).all("section")]
    assert statuses == ["fail", "fail", "warn"]


def test_no_failures_says_so() -> None:
    page = Page(render(report_data()))
    assert page.texts["no-failures"] == "None."
    assert page.all("section") == []


def test_everything_from_the_data_is_escaped(failing: dict[str, Any]) -> None:
    failing["requirements"][1]["id"] = 'ODD-"><img src=x onerror=alert(2)>'
    failing["suite_errors"] = [HOSTILE]
    html = render(failing)
    page = Page(html)
    assert HOSTILE not in html
    assert "<img" not in html
    assert escape(HOSTILE) in html
    assert [t for t, _ in page.elements].count("script") == 1  # the page's own
    assert page.all("img") == []
    assert 'ODD-"><img src=x onerror=alert(2)>' in page.texts[str(page.all("tr")[2]["id"])]
    assert REPRODUCTION in page.texts.values()  # shell quoting and all, as text


@pytest.mark.parametrize(("strict", "status"), [(False, "warn"), (True, "fail")])
def test_an_unmet_should_is_a_warning_unless_strict(strict: bool, status: str) -> None:
    data = report_data(failed={SHOULD.id: [{"message": "m", "reproduction": "r"}]}, strict=strict)
    assert Page(render(data)).rows()[SHOULD.id]["data-status"] == status


def test_the_filters_cover_every_status_and_level(failing: dict[str, Any]) -> None:
    page = Page(render(failing))
    boxes = {(a["name"], a["value"]) for a in page.all("input", type="checkbox")}
    assert boxes == {("status", s) for s in ("fail", "warn", "pass", "not_exercised")} | {
        ("level", "MUST"),
        ("level", "SHOULD"),
    }
    filtered = [a for _, a in page.elements if "data-status" in a]
    assert {(a["data-status"], a["data-level"]) for a in filtered} <= {(s, lv) for _, s in boxes for _, lv in boxes}
    assert len(filtered) == len(REQUIREMENTS) + 3  # every row and every failure


def test_the_page_loads_nothing(failing: dict[str, Any]) -> None:
    """No resource from anywhere: no src, no <link>, no CSS url() or @import; the only links go to
    the contract file and to anchors of the page."""
    html = render(failing)
    page = Page(html)
    assert not [(t, a) for t, a in page.elements if "src" in a or t in ("link", "iframe", "object", "embed")]
    hrefs = {a["href"] for a in page.all("a")}
    assert all(str(h).startswith(("#", CONTRACT_URI)) for h in hrefs), hrefs
    style, script = re.search(r"<style>(.*?)</style>", html, re.S), re.search(r"<script>(.*?)</script>", html, re.S)
    assert style
    assert script
    assert not re.search(r"url\(|@import|https?:", style[1] + script[1])


# --- a real failing run's page in headless Chromium ----------------------------------------------

FAULTS = frozenset({"repeat-delete-200", "cancel-422"})  # MUSTs fail, a SHOULD warns
TOKEN = "html-report-fixtures-token"


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    report_dir = tmp_path_factory.mktemp("html") / "reports"
    with MockServer(MockConfig(fixtures_token=TOKEN, faults=FAULTS)) as server:
        args = ["--target-url", server.url, "--fixtures-token", TOKEN, "--budget", "smoke"]
        return run_suite(args, report_dir)


def chromium(profile: Path, *args: str) -> str:
    """Headless Chromium's stdout, with no network but loopback files and no state beyond `profile`."""
    command = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
    command += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    command += ["--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="no `chromium` on PATH: install Debian's (`apt-get install -y chromium`, as .ci/run does) to open"
    " report.html in a real browser",
)
def test_a_failing_runs_page_renders_in_headless_chromium(failed_run: SuiteRun, tmp_path: Path) -> None:
    assert failed_run.returncode == 1, failed_run.describe()
    page_url = (failed_run.report_dir / "report.html").as_uri()
    failed = [r for r in failed_run.report["requirements"] if r["failures"]]
    assert {r["level"] for r in failed} == {"MUST", "SHOULD"}, failed_run.describe()

    dom = Page(chromium(tmp_path / "profile", "--dump-dom", page_url))
    rows = dom.rows()
    assert list(rows) == [r.id for r in REQUIREMENTS]
    assert not [i for i, row in rows.items() if "hidden" in row], "nothing is filtered out at first"
    assert dom.texts["shown"] == f"{len(REQUIREMENTS)} of {len(REQUIREMENTS)} requirements shown"  # the script ran
    shown = "\n".join(dom.texts[str(s["id"])] for s in dom.all("section"))
    for failure in failed_run.failures:
        assert failure["message"] in shown
        assert failure["reproduction"] in shown

    only = "status=fail,warn&level=MUST"  # preset from the address; the warning goes by its level
    dom = Page(chromium(tmp_path / "profile", "--dump-dom", f"{page_url}#{only}"))
    visible = {i for i, row in dom.rows().items() if "hidden" not in row}
    assert visible == {r["id"] for r in failed if r["level"] == "MUST"}, visible
    sections = dom.all("section")
    assert {s["data-level"] for s in sections if "hidden" not in s} == {"MUST"}
    assert any("hidden" in s for s in sections)  # the SHOULD's warning
    assert dom.texts["shown"] == f"{len(visible)} of {len(REQUIREMENTS)} requirements shown"

    screenshot = tmp_path / "report.png"
    height = 700 + 320 * len(failed_run.failures) + 34 * len(REQUIREMENTS)  # the whole page
    chromium(tmp_path / "profile", f"--screenshot={screenshot}", f"--window-size=1280,{height}", page_url)
    assert screenshot.stat().st_size > 50_000, "a blank page"
    print(f"screenshot of report.html: {screenshot}")
