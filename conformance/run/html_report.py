"""`report.html`: the run's report for people, one self-contained page (no network, inline CSS and
JS) rendered from the same data as `report.json`: the verdict, the run's settings, the
requirement matrix filterable by status and level, and each failure's reproduction with a copy
button. Every value from the data is HTML-escaped, and none reaches the script: the page's JS
reads the DOM only.

The filter can be preset from the address: `report.html#status=fail,warn&level=MUST`.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from conformance.contract._resources import contract_links
from conformance.layers.verdict import Shown, shown
from conformance.run.report_data import Report, RequirementResult, Shard

__all__ = ["render"]

STATUSES: dict[Shown, str] = {"fail": "FAIL", "warn": "warn", "pass": "pass", "not_exercised": "not exercised"}
LEVELS = ("MUST", "SHOULD")

# The run's settings as `report.json` names them, in the order shown; those that are None are left out.
SETTINGS = (
    ("target", "Target"),
    ("seed", "Seed"),
    ("budget", "Budget"),
    ("max_requests", "Request cap"),
    ("strict", "Strict (SHOULDs gate)"),
    ("shard", "Shard"),
    ("workers", "Workers"),
    ("shards", "Shards"),
    ("requests", "Requests sent"),
    ("throttled", "Throttled answers"),
    ("rate_limit_per_minute", "Rate limit (per minute)"),
    ("destructive", "Cancels and deletes"),
    ("seeder", "Seeder"),
    ("duration_s", "Duration (s)"),
    ("suite_version", "Suite version"),
    ("contract_version", "Contract version"),
    ("leftovers", "Calls left on the target"),
)

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 1.5rem 3rem;
  color: #1d1d1f; background: #fff; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; } h3 { font-size: 1rem; margin: 0 0 .4rem; }
.verdict { padding: .8rem 1.2rem; border-radius: 6px; font-size: 1.3rem; font-weight: 700; }
.verdict-pass { background: #e3f6e8; color: #0f5323; } .verdict-fail { background: #fde4e4; color: #8a1212; }
.verdict-incomplete { background: #fff3d6; color: #6b4a00; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; vertical-align: top;
  padding: .2rem .5rem; border-bottom: 1px solid #e2e2e6; } th { background: #f5f5f7; }
dl.settings { display: grid; grid-template-columns: repeat(3, max-content minmax(0, 1fr)); gap: .25rem 1rem;
  margin: 0; } dl.settings dt { font-weight: 600; } dl.settings dd { margin: 0; overflow-wrap: anywhere; }
code, pre { font: 13px/1.4 ui-monospace, monospace; } td.id { white-space: nowrap; }
.status { font-weight: 700; white-space: nowrap; } .s-pass { color: #137333; } .s-fail { color: #b3261e; }
.s-warn { color: #8a5a00; } .s-not_exercised { color: #666; } .status a { color: inherit; }
.filters { display: flex; gap: 2rem; flex-wrap: wrap; padding: .6rem 0; } .filters label { margin-right: .8rem; }
.failure { border: 1px solid #e2e2e6; border-left: 4px solid #b3261e; border-radius: 4px; padding: .7rem 1rem;
  margin: .8rem 0; } .failure.warn { border-left-color: #8a5a00; }
pre { background: #f5f5f7; padding: .6rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere;
  margin: .4rem 0; }
button.copy { font: inherit; font-size: .85rem; padding: .15rem .6rem; cursor: pointer; }
.reason, .muted { color: #666; font-size: .9rem; }
details.dims { font-size: .85rem; color: #444; } details.dims dl { display: grid; margin: .2rem 0;
  grid-template-columns: max-content minmax(0, 1fr); gap: 0 .8rem; } details.dims dd { margin: 0; }
.errors li { color: #8a1212; }
"""

SCRIPT = """
(function () {
  var boxes = Array.prototype.slice.call(document.querySelectorAll('.filters input[type=checkbox]'));
  var items = Array.prototype.slice.call(document.querySelectorAll('[data-status][data-level]'));
  var rows = document.querySelectorAll('#matrix tbody tr');
  function chosen(name) {
    return boxes.filter(function (b) { return b.name === name && b.checked; }).map(function (b) { return b.value; });
  }
  function apply() {
    var statuses = chosen('status'), levels = chosen('level'), shown = 0;
    items.forEach(function (el) {
      var hide = statuses.indexOf(el.dataset.status) < 0 || levels.indexOf(el.dataset.level) < 0;
      el.hidden = hide;
      if (!hide && el.tagName === 'TR') { shown += 1; }
    });
    document.getElementById('shown').textContent = shown + ' of ' + rows.length + ' requirements shown';
  }
  function preset() {  // #status=fail,warn&level=MUST: a filtered view one can link to
    var params = new URLSearchParams(location.hash.replace(/^#/, ''));
    boxes.forEach(function (b) {
      if (params.has(b.name)) { b.checked = params.get(b.name).split(',').indexOf(b.value) >= 0; }
    });
    apply();
  }
  function remember() {
    var hash = ['status', 'level'].map(function (n) { return n + '=' + chosen(n).join(','); }).join('&');
    history.replaceState(null, '', '#' + hash);
    apply();
  }
  boxes.forEach(function (b) { b.addEventListener('change', remember); });
  window.addEventListener('hashchange', preset);
  function copied(button, ok) {
    button.textContent = ok ? 'Copied' : 'Select and copy by hand';
    setTimeout(function () { button.textContent = 'Copy'; }, 1500);
  }
  function fallback(text, button) {  // no clipboard API (older browsers, some file:// pages)
    var area = document.createElement('textarea');
    area.value = text; area.setAttribute('readonly', ''); area.style.position = 'fixed'; area.style.opacity = '0';
    document.body.appendChild(area); area.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(area);
    copied(button, ok);
  }
  document.querySelectorAll('button.copy').forEach(function (button) {
    button.addEventListener('click', function () {
      var text = document.getElementById(button.dataset.target).textContent;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { copied(button, true); },
                                                 function () { fallback(text, button); });
      } else { fallback(text, button); }
    });
  });
  preset();
})();
"""


def render(report: Report) -> str:
    """The whole page of one run's (or joined runs') report."""
    requirements = report.requirements
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>HuskyVoice conformance: {_e(report.verdict_text)}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>HuskyVoice conformance report</h1>",
        f'<p class="verdict verdict-{_e(report.verdict)}" id="verdict">{_e(report.verdict_text)}</p>',
        f'<p class="muted">{_e(_counts(requirements, report.strict))}</p>',
        _errors(report.suite_errors),
        _settings(report),
        _filters(),
        _failures(requirements, report.strict),
        _matrix(requirements, report.contract, report.strict),
        f"<script>{SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _status(requirement: RequirementResult, strict: bool) -> Shown:
    """The status shown: an unmet SHOULD is a warning unless the run was strict (as the other reports)."""
    return shown(requirement.status, requirement.level, strict=strict)


def _counts(requirements: tuple[RequirementResult, ...], strict: bool) -> str:
    statuses = [_status(r, strict) for r in requirements]
    counted = [f"{statuses.count(s)} {label}" for s, label in STATUSES.items() if s in statuses]
    return f"{len(requirements)} requirements: " + ", ".join(counted)


def _errors(errors: tuple[str, ...]) -> str:
    if not errors:
        return ""
    items = "".join(f"<li><code>{_e(error)}</code></li>" for error in errors)
    return f'<h2>The suite itself</h2><ul class="errors">{items}</ul>'


def _settings(report: Report) -> str:
    values = {key: getattr(report, key) for key, _ in SETTINGS}
    rows = [
        f"<dt>{label}</dt><dd>{_e(_setting(key, values[key]))}</dd>"
        for key, label in SETTINGS
        if values[key] is not None
    ]
    contract = f'<dt>Contract</dt><dd><a href="{_e(report.contract)}">{_e(report.contract)}</a></dd>'
    return f'<h2>Settings</h2><dl class="settings" id="settings">{"".join(rows)}{contract}</dl>'


def _setting(key: str, value: object) -> str:
    if key == "destructive":
        return "on" if value else "off"
    if isinstance(value, Shard):
        return f"{value.index}/{value.count}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "off" if key == "rate_limit_per_minute" and not value else str(value)


def _checkboxes(name: str, values: Iterable[tuple[str, str]]) -> str:
    boxes = "".join(
        f'<label><input type="checkbox" name="{name}" value="{value}" checked> {label}</label>'
        for value, label in values
    )
    return f'<fieldset id="filter-{name}"><legend>{name.title()}</legend>{boxes}</fieldset>'


def _filters() -> str:
    """Checkboxes that show and hide the failures and the matrix's rows (the script does it)."""
    return (
        '<form class="filters" id="filters">'
        f"{_checkboxes('status', STATUSES.items())}{_checkboxes('level', zip(LEVELS, LEVELS, strict=True))}"
        '<output id="shown" class="muted"></output></form>'
    )


def _matrix(requirements: tuple[RequirementResult, ...], contract: str, strict: bool) -> str:
    rows = []
    for n, r in enumerate(requirements):
        status = _status(r, strict)
        links = ", ".join(f'<a href="{_e(url)}">{_e(s)}</a>' for s, url in contract_links(r.section, contract))
        label = STATUSES.get(status, status)
        mark = f'<a href="#failure-{n}-0">{label}</a>' if r.failures else label
        reason = f'<div class="reason">{_e(r.reason)}</div>' if r.reason else ""
        reason += _dimensions(r)
        rows.append(
            f'<tr id="req-{n}" data-status="{_e(status)}" data-level="{_e(r.level)}">'
            f'<td class="id"><code>{_e(r.id)}</code></td><td>{_e(r.level)}</td><td>{links}</td>'
            f'<td class="status s-{_e(status)}">{mark}</td><td>{_e(r.checks)}</td>'
            f"<td>{_e(r.statement)}{reason}</td></tr>"
        )
    return (
        '<h2>Requirements</h2><table id="matrix"><thead><tr><th>Requirement</th><th>Level</th><th>§</th><th>Status</th>'
        f"<th>Checks</th><th>Statement</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _dimensions(requirement: RequirementResult) -> str:
    """The dimensions the requirement was judged along, folded under its statement."""
    listed = requirement.dimensions.listed()
    if not listed:
        return ""
    rows = "".join(f"<dt>{_e(axis.replace('_', ' '))}</dt><dd>{_e(', '.join(values))}</dd>" for axis, values in listed)
    return f'<details class="dims"><summary>dimensions covered</summary><dl>{rows}</dl></details>'


def _failures(requirements: tuple[RequirementResult, ...], strict: bool) -> str:
    """Each failure with its reproduction: those that fail the run first, then the warnings."""
    blocks = []
    for n, r in sorted(enumerate(requirements), key=lambda item: _status(item[1], strict) != "fail"):
        status = _status(r, strict)
        for k, failure in enumerate(r.failures):
            anchor = f"failure-{n}-{k}"
            blocks.append(
                f'<section class="failure {_e(status)}" id="{anchor}" data-status="{_e(status)}"'
                f' data-level="{_e(r.level)}"><h3><code>{_e(r.id)}</code> ({_e(r.level)}):'
                f" {_e(failure.message)}</h3>"
                f'<button type="button" class="copy" data-target="{anchor}-repro">Copy</button>'
                f'<pre><code id="{anchor}-repro">{_e(failure.reproduction)}</code></pre></section>'
            )
    if not blocks:
        return '<h2>Failures</h2><p class="muted" id="no-failures">None.</p>'
    return "<h2>Failures</h2>" + "".join(blocks)
