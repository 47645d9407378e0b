"""The schema layer's failures, recorded: each with its requirement, a one-line message, and a
reproduction (secrets as `${NAME}` references): every request of the scenario on the calls the failing
chain of requests names, their seeding, the chain itself, and the replay line."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests
import schemathesis
from schemathesis.engine.recorder import Interaction, ScenarioRecorder

from conformance.contract.requirements import by_id
from conformance.http.client import Exchange
from conformance.http.redaction import Secrets
from conformance.layers.schema.configuration import Case
from conformance.layers.schema.judging import NO_ANSWER_REQUIREMENT

if TYPE_CHECKING:
    from conformance.layers.context import Context

__all__ = ["Finding", "Tally", "exchange_of", "record_failure", "record_no_answer", "render_curl"]

MAX_NETWORK_ERRORS = 3  # in a row: the target is down, skip what is left of the operation
MAX_DETAIL_LINES = 4
DUMPS = ("Schema at", "Schema:", "Value:", "Instance:")  # where a failure message turns into JSON dumps


@dataclass(frozen=True)
class Finding:
    """A failure the layer recorded: its requirement and its (redacted) one-line message."""

    requirement: str
    message: str


@dataclass
class Tally:
    """One operation's or the stateful phase's run: check results in hand, findings, errors in a row."""

    results: list[schemathesis.CheckResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors_in_a_row: int = 0

    @property
    def target_down(self) -> bool:
        return self.errors_in_a_row >= MAX_NETWORK_ERRORS


# -- reproductions --------------------------------------------------------------------------------


def _shell_word(word: str, after: str, secrets: Secrets) -> str:
    """One word of a curl command, quoted for a shell, with its secrets as `${NAME}` references."""
    name, colon, value = word.partition(": ")
    if after == "-H" and colon:
        marked = f"{name}: {secrets.mark_header(name, value)}"
    elif word.startswith(("http://", "https://")):
        marked = secrets.mark_url(word)
    else:
        marked = secrets.mark_text(word)
    return shlex.quote(word) if marked == word else secrets.render(marked, shell=True)


def render_curl(curl: str, secrets: Secrets) -> str:
    """Schemathesis' curl command with no secret in it, runnable once the `${NAME}` variables are set."""
    command, _, warnings = curl.partition("\n\n")
    try:
        words = shlex.split(command)
    except ValueError:  # not one shell command after all: plain redaction
        return secrets.render(secrets.mark_text(command))
    rendered = " ".join(_shell_word(word, after, secrets) for after, word in zip(["", *words], words, strict=False))
    notes = [f"# {secrets.redact(line)}" for line in warnings.splitlines() if line.strip()]
    return "\n".join([rendered, *notes])


def _outcome(response: schemathesis.Response | None) -> str:
    return "no answer" if response is None else str(response.status_code)


def _details(message: str) -> list[str]:
    """The explanation of a schemathesis failure, without the schema and value dumps after it."""
    lines = []
    for line in message.splitlines():
        if line.startswith(DUMPS):
            break
        if line.strip():
            lines.append(line.strip())
    return lines[:MAX_DETAIL_LINES]


def exchange_of(interaction: Interaction, error: str | None = None) -> Exchange:
    """One request schemathesis sent, and what came back, as the suite's client has its own."""
    request, response = interaction.request, interaction.response
    headers = {name: ", ".join(values) for name, values in request.headers.items()}
    if response is None:
        return Exchange(request.method, request.uri, headers, request.body, None, error=error or "no answer")
    answer = {name.lower(): ", ".join(values) for name, values in response.headers.items()}
    return Exchange(request.method, request.uri, headers, request.body, response.status_code, answer, response.content)


# -- recording ---------------------------------------------------------------------------------


def record_failure(
    ctx: Context,
    tally: Tally,
    requirement: str,
    result: schemathesis.CheckResult,
    case: Case,
    recorder: ScenarioRecorder,
) -> None:
    """Record a failed check of `requirement`, with the chain of requests that led to it."""
    failure = result.failure
    assert failure is not None
    failing = failure.case_id if failure.case_id in recorder.cases else case.id
    got = _outcome(recorder.find_response(case_id=failing))
    title = f"{failure.title}: got {got} ({result.name}; contract §{by_id(requirement).section})"
    chain = recorder.iter_chain_cases(case_id=failing, related_case_ids=failure.related_case_ids())
    sent = [exchange_of(recorder.interactions[c.id]) for c in chain if c.id in recorder.interactions]
    _write(ctx, tally, requirement, f"{title} on {case.operation.label}", sent, _details(failure.message))


def record_no_answer(
    ctx: Context,
    tally: Tally,
    case: Case,
    recorder: ScenarioRecorder,
    exc: requests.RequestException,
    kind: str,
    sent: Exchange | None,
) -> None:
    """Record that `case` got no answer, of the `kind` `exc` says: `sent`, as the client was shown it
    (None: `exc` holds no request, and schemathesis' own curl of the case stands for it)."""
    chain = [c for c in recorder.iter_chain_cases(case_id=case.id) if c.id != case.id]
    before = [exchange_of(recorder.interactions[c.id]) for c in chain if c.id in recorder.interactions]
    unsent = (
        ()
        if sent is not None
        else (render_curl(case.as_curl_command(), ctx.client.secrets) + f"   # -> no answer: {kind}",)
    )
    message = f"No answer: {kind} (contract §1) on {case.operation.label}"
    _write(ctx, tally, NO_ANSWER_REQUIREMENT, message, [*before, *([sent] if sent else [])], [str(exc)], unsent)


def _write(
    ctx: Context,
    tally: Tally,
    requirement: str,
    message: str,
    sent: list[Exchange],
    details: list[str],
    unsent: tuple[str, ...] = (),
) -> None:
    """Record the failure, its reproduction the scenario's requests on the calls `sent` names (see
    `Context.reproduction`), after the `details` and with the `unsent` lines before the replay line."""
    secrets = ctx.client.secrets
    finding = Finding(requirement, secrets.redact(message))
    if ctx.results.keeps(requirement, finding.message):  # else the reproduction is not worth its search
        lines = [f"# {secrets.redact(line)}" for line in details]
        *steps, replay = ctx.reproduction(sent).splitlines()
        lines += [*steps, *unsent, replay]
        ctx.results.fail(requirement, finding.message, secrets.render(secrets.mark_text("\n".join(lines))))
    if finding not in tally.findings:
        tally.findings.append(finding)
