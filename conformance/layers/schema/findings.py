"""The schema layer's failures, recorded: each with its requirement, a one-line message, and a
reproduction of schemathesis' curl commands (secrets as `${NAME}` references), the seeding of the
calls they name, and the seed of the run."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests
import schemathesis
from schemathesis.engine.recorder import ScenarioRecorder

from conformance.contract.requirements import by_id
from conformance.http.client import Exchange
from conformance.http.redaction import Secrets
from conformance.layers.replay_line import replay_command
from conformance.layers.schema.configuration import Case
from conformance.layers.schema.judging import NO_ANSWER_REQUIREMENT

if TYPE_CHECKING:
    from conformance.layers.context import Context

__all__ = ["Finding", "Tally", "record_failure", "record_no_answer", "render_curl"]

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


def _setup_of(ctx: Context, text: str) -> list[Exchange]:
    """The seeding exchanges of the seeded calls `text` mentions."""
    return [ctx.env.setup[c] for c in ctx.env.created if c in text and c in ctx.env.setup]


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
    steps = [_step(ctx, c, recorder) for c in chain]
    _write(ctx, tally, requirement, f"{title} on {case.operation.label}", steps, _details(failure.message))


def record_no_answer(
    ctx: Context,
    tally: Tally,
    case: Case,
    recorder: ScenarioRecorder,
    exc: requests.RequestException,
    kind: str,
) -> None:
    """Record that `case` (sent as `exc.request`) got no answer, of the `kind` `exc` says."""
    prepared = exc.request if isinstance(exc.request, requests.PreparedRequest) else None
    steps = [_step(ctx, c, recorder) for c in recorder.iter_chain_cases(case_id=case.id) if c.id != case.id]
    sent = case.as_curl_command(headers=dict(prepared.headers) if prepared is not None else None)
    steps.append(render_curl(sent, ctx.client.secrets) + f"   # -> no answer: {kind}")
    _write(
        ctx,
        tally,
        NO_ANSWER_REQUIREMENT,
        f"No answer: {kind} (contract §1) on {case.operation.label}",
        steps,
        [str(exc)],
    )


def _step(ctx: Context, case: Case, recorder: ScenarioRecorder) -> str:
    """One request of a reproduction, as it was sent, with what came back."""
    interaction = recorder.interactions.get(case.id)
    headers = recorder.find_request_headers(case_id=case.id) if interaction is not None else None
    curl = render_curl(case.as_curl_command(headers=headers), ctx.client.secrets)
    return f"{curl}   # -> {_outcome(interaction.response if interaction is not None else None)}"


def _write(ctx: Context, tally: Tally, requirement: str, message: str, steps: list[str], details: list[str]) -> None:
    secrets = ctx.client.secrets
    finding = Finding(requirement, secrets.redact(message))
    setup = [e.curl(secrets) + f"   # -> {e.outcome()}" for e in _setup_of(ctx, "\n".join(steps))]
    lines = [f"# {secrets.redact(line)}" for line in details]
    lines += [*setup, *steps, f"# replay the run: {ctx.replay or replay_command(ctx.config)}"]
    ctx.results.fail(requirement, finding.message, secrets.render(secrets.mark_text("\n".join(lines))))
    if finding not in tally.findings:
        tally.findings.append(finding)
