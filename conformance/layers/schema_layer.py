"""The schema layer: schemathesis, driven from inside the suite, against the suite's target.

This module owns the translation both ways. The run's target (with its base path), seed, budget,
organisation A's key, its webhook token and calls seeded in every state the environment allows
become one schemathesis config. Every check result schemathesis reports becomes a counted check,
and every failure a recorded one, of a requirement of the catalogue (`CHECK_REQUIREMENTS`), with
schemathesis' curl reproduction (secrets as `${NAME}` references) and the seed. Every built-in
check runs, plus one of ours in the stateful phase, for what `use_after_free` cannot judge.

Nothing schemathesis raises about the target escapes: check failures and network errors are
recorded and the run goes on with the next example. We record instead of raising into Hypothesis
(which would shrink) on purpose: the target is stateful, so a shrink replays requests against a
server that has moved on (a deleted call stays deleted), which makes shrinking flaky and costly;
and the examples and coverage phases, which run first, already send minimal one-deviation
requests, whose failure is the one kept (the results keep the first failure of each message).
With the seed fixed and no example database, the same seed sends the same requests.

Schemathesis sends through `requests`, not the suite's client. Each of its requests (auth probes
included) is counted into the run's total and shown to the client's observers as an `Exchange`,
so the response-wide rules (`conformance.layers.universal`) judge fuzzed responses too; 429s are waited
out as the client does. It sends through `limits.capped_session`: the client's size cap and total
deadline hold for schemathesis' requests too, and no redirect is followed.

The per-operation phases use `create_test`, the builder schemathesis' pytest plugin and its engine
share, and the stateful phase adds rules with schemathesis' own `transition`: neither is public
API, which is one more reason schemathesis is pinned exactly.
"""

from __future__ import annotations

import json
import random
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import hypothesis
import requests
import schemathesis
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis.stateful import Bundle
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from schemathesis.engine.recorder import Interaction, Request, ScenarioRecorder
from schemathesis.generation import GenerationMode, derive_operation_seed, overrides
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario, TestPhase
from schemathesis.generation.stateful.state_machine import StepInput, normalize_name
from schemathesis.specs.openapi.adapter.security import declares_security
from schemathesis.specs.openapi.checks import ignored_auth
from schemathesis.specs.openapi.stateful import is_root_allowed, transition

from conformance.config import Budget
from conformance.contract._resources import spec_path
from conformance.contract.requirements import by_id
from conformance.errors import NotExercised
from conformance.http.client import Exchange
from conformance.http.limits import AnswerTooLarge, capped_session
from conformance.http.redaction import Secrets
from conformance.http.throttle import until_served, wait_for
from conformance.layers.determinism import no_mined_constants
from conformance.target import calls
from conformance.target.ledger import MAX_CLEANUP_COST
from conformance.target.safety import DESTRUCTIVE_ACTIONS, NOT_ALLOWED

if TYPE_CHECKING:
    from conformance.layers.checks import Context

Case = schemathesis.Case[Any]
Operation = schemathesis.APIOperation[Any, Any, Any, Any]

__all__ = [
    "CHECK_REQUIREMENTS",
    "Finding",
    "SchemaLayer",
    "layer_config",
    "operation_labels",
    "operation_test",
    "render_curl",
    "requirement_for",
]

# Every built-in check of schemathesis 4.32.5 (`max_response_time` is off: the contract sets no limit).
CHECK_REQUIREMENTS: dict[str, str] = {
    "not_a_server_error": "ENV-NO-5XX",
    "response_schema_conformance": "SCHEMA-RESPONSES",
    "content_type_conformance": "SCHEMA-RESPONSES",
    "response_headers_conformance": "SCHEMA-RESPONSES",
    "status_code_conformance": "SCHEMA-STATUS-DOCUMENTED",
    "negative_data_rejection": "SCHEMA-NEGATIVE-REJECTED",
    "positive_data_acceptance": "SCHEMA-POSITIVE-ACCEPTED",
    "missing_required_header": "AUTH-MISSING-401",
    "ignored_auth": "AUTH-MISSING-401",  # AUTH-UNKNOWN-401 for its invalid-auth probes
    "use_after_free": "DEL-GONE",
    "ensure_resource_availability": "CREATE-201-QUEUED",
    "unsupported_method": "ENV-WRONG-METHOD-405",
    "allow_header_conformance": "ENV-WRONG-METHOD-405",  # the methods a route answers to
    "object_level_authorization": "TENANT-404",  # needs two identities: never applies with one
    # Ours, in the stateful phase: what `use_after_free` cannot judge (see `_still_there_check`).
    "deleted_call_answers_404": "DEL-GONE",
}
UNKNOWN_CHECK_REQUIREMENT = "SCHEMA-RESPONSES"
NO_ANSWER_REQUIREMENT = "ENV-NO-5XX"  # no answer at all is worse than a 5xx
SEEDED_STATES = ("queued", "initiated", "ringing", "in_progress", "failed", "cancelled") + ("completed",) * 5
SAMPLED_SEEDED_STATES = ("completed",)  # the budget's breadth "sample": the state in which every operation succeeds
STATEFUL_STATES = ("completed",)  # seeded scenario starts: the one state a scenario cannot reach itself
DICTIONARY_PROBABILITY = {"call_id": 0.5, "token": 0.8}
BINDINGS = {"call_id": ("path.call_id", "body.data.call_id"), "token": ("path.token",)}  # the webhook's too
PLACEHOLDER = "husky-seeded-call-"  # URL-safe: schemathesis keeps path values percent-encoded
# The target's transport failures. The rest of `requests.RequestException` (an invalid header or
# URL built here) is the suite's own bug: it propagates, and the test reports a suite error.
NO_ANSWER = (
    requests.ConnectionError,  # refused, reset, TLS
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    requests.TooManyRedirects,
    AnswerTooLarge,  # past `limits.MAX_ANSWER_BYTES`: not judged, as if no answer came
)
AUTH_PROBES = 3  # `ignored_auth` after a 2xx: without auth, then an invalid key in each of the two schemes
MAX_NETWORK_ERRORS = 3  # in a row: the target is down, skip what is left of the operation
MAX_DETAIL_LINES = 4
DUMPS = ("Schema at", "Schema:", "Value:", "Instance:")  # where a failure message turns into JSON dumps


def requirement_for(check: str, failure: object | None = None) -> str:
    """The requirement a schemathesis check (and, for `ignored_auth`, its failed probe) checks."""
    if check == "ignored_auth" and str(getattr(failure, "scenario", "no_auth")) != "no_auth":
        return "AUTH-UNKNOWN-401"
    return CHECK_REQUIREMENTS.get(check, UNKNOWN_CHECK_REQUIREMENT)


def operation_labels() -> list[str]:
    """`METHOD /path` of every operation of the spec, in spec order (test ids; no target needed)."""
    schema = schemathesis.openapi.from_path(spec_path(), config=schemathesis.Config())
    return [operation.label for operation in _operations(schema)]


def _operations(schema: schemathesis.BaseSchema) -> Iterator[Operation]:
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()  # the bundled spec is valid (tests/test_specs.py): a packaging bug
        yield result.ok()


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


# -- the layer ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A failure the layer recorded: its requirement and its (redacted) one-line message."""

    requirement: str
    message: str


@dataclass
class _Tally:
    """One operation's or the stateful phase's run: check results in hand, findings, errors in a row."""

    results: list[schemathesis.CheckResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors_in_a_row: int = 0

    @property
    def target_down(self) -> bool:
        return self.errors_in_a_row >= MAX_NETWORK_ERRORS


class SchemaLayer:
    """Schemathesis over the spec, configured for this run's target; one per suite session."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tenant = ctx.env.a
        self.sampled = ctx.config.budget.breadth == "sample"
        self.call_ids = _seed_calls(ctx, SAMPLED_SEEDED_STATES if self.sampled else SEEDED_STATES)
        self.schema = schemathesis.openapi.from_path(spec_path(), config=self._config())
        self._tally = _Tally()

        def after_validate(context: Any, case: Any, response: Any, results: list[schemathesis.CheckResult]) -> None:
            self._tally.results.extend(results)  # every check's outcome, under the name of its check

        self.schema.hook("after_validate")(after_validate)

    def _config(self) -> schemathesis.Config:
        config, tenant = self.ctx.config, self.tenant
        return layer_config(
            seed=config.seed,
            base_url=config.target_url,  # with the target's base path, as the client has it
            timeout=config.timeout,
            budget=config.budget,
            key=tenant.key,
            webhook_token=tenant.webhook_token,
            call_ids=self.call_ids,
        )

    # -- per operation: examples, coverage, fuzzing ---------------------------------------------

    def run_operation(self, label: str) -> list[Finding]:
        """Examples, then coverage, then fuzzing of one operation; what it found (all recorded)."""
        operation = self.schema.find_operation_by_label(label)
        if operation is None:
            raise KeyError(f"no operation {label!r} in the spec")
        if declares_security(operation):
            self.tenant.need_key()
        if operation.method == "delete" or operation.path.endswith("/cancel"):
            self._need_destructive()
        self._tally = _Tally()
        config = self.schema.config
        for modes, override in self._phases(operation):
            # Sampled, the explicit cases are gathered first and only representatives are sent.
            gathered: list[Case] | None = [] if self.sampled and HypothesisTestMode.EXAMPLES in modes else None
            test = operation_test(
                operation, modes, override, self._run_case if gathered is None else _gatherer(gathered)
            )
            with no_mined_constants():
                test()
            for case in _representatives(gathered or [], random.Random(f"{config.seed}:schema:{label}")):
                self._run_case(case)
        return self._tally.findings

    def _phases(self, operation: Any) -> Iterator[tuple[list[HypothesisTestMode], overrides.Override]]:
        explicit = overrides.with_config_headers(self.schema.config, operation=operation)
        token = self.tenant.webhook_token
        if token and any(p.name == "token" for p in operation.path_parameters):
            # With a generated token every explicit case of the webhook is a 401 that reads no body.
            explicit.path_parameters["token"] = token
        yield [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE], explicit
        yield [HypothesisTestMode.FUZZING], overrides.with_config_headers(self.schema.config, operation=operation)

    def _run_case(self, case: Case) -> None:
        if self._tally.target_down:
            return
        recorder = ScenarioRecorder(label=case.operation.label)
        recorder.record_case(case=case)
        response = self._send(case, recorder, {})
        if response is not None:
            self._validate(case, response, recorder, {})

    # -- the stateful phase: scenarios along the spec's links -----------------------------------

    def run_stateful(self) -> list[Finding]:
        """`stateful_scenarios` scenarios along the spec's links, from created and from seeded calls."""
        self.tenant.need_key()
        self._need_destructive()  # every scenario goes on to cancel or delete what it made
        self._tally = _Tally()
        workflow = self._workflow()
        settings = hypothesis.settings(
            workflow.TestCase.settings,  # schemathesis' defaults: no shrinking, no health checks
            max_examples=self.ctx.config.budget.stateful_scenarios,
            stateful_step_count=self.ctx.config.budget.stateful_steps or self.schema.config.phases.stateful.max_steps,
            database=None,
        )
        try:
            with no_mined_constants():
                workflow.run(settings=settings)
        except Unsatisfiable:
            if not self._tally.target_down:
                raise  # every scenario rejected, yet the target answers: a suite error
        return self._tally.findings

    def _workflow(self) -> Any:
        layer = self
        seed = derive_operation_seed(self.schema.config.seed, "stateful")
        base: Any = self.schema.as_state_machine()  # an OpenAPIStateMachine subclass
        states = [s for s in STATEFUL_STATES if self.ctx.env.can_seed_any_state]
        roots = _seeded_roots(base, states)

        # `after_call` is not overridden: schemathesis' own records each response for the stateful
        # checks (use_after_free, ensure_resource_availability); overriding it without super() would
        # silently switch them off.
        class Workflow(base):  # type: ignore[misc]
            rule_order_seed = seed
            root_rules = base.root_rules | set(roots)
            _root_labels = base._root_labels | {label for label, _ in roots.values()}

            def setup(self) -> None:
                self.seeded: dict[str, str] = {}  # state -> this scenario's own call in it

            def call(self, case: Case, **kwargs: Any) -> schemathesis.Response:
                if layer._tally.target_down:
                    hypothesis.reject()
                layer._materialise(case, self.seeded)
                response = layer._send(case, self.recorder, kwargs)
                if response is None:
                    hypothesis.reject()  # no answer (recorded): this scenario ends, the next one starts
                return response

            def validate_response(self, response: schemathesis.Response, case: Case, *args: Any, **kwargs: Any) -> None:
                layer._validate(case, response, self.recorder, kwargs, (_still_there_check(self.recorder),))

        for name, (_, rule) in roots.items():
            setattr(Workflow, name, rule)
        return hypothesis.seed(seed)(Workflow)

    def _materialise(self, case: Case, seeded: dict[str, str]) -> None:
        """Swap a seeded start's placeholder id for a call seeded now, fresh for this scenario.

        Fresh calls keep every scenario independent of the ones before it: a call an earlier
        scenario deleted would answer differently, which Hypothesis rejects as a flaky strategy.
        """
        params = case.path_parameters or {}
        placeholder = params.get("call_id")
        if isinstance(placeholder, str) and placeholder.startswith(PLACEHOLDER):
            state = placeholder.removeprefix(PLACEHOLDER)
            if state not in seeded:
                seeded[state] = self.ctx.env.seed_call(self.tenant, state)
            params["call_id"] = seeded[state]

    # -- sending, validating, counting (shared by both phases) ----------------------------------

    def _send(self, case: Case, recorder: ScenarioRecorder, kwargs: dict[str, Any]) -> schemathesis.Response | None:
        """Send `case`, waiting out 429s; None (and a recorded failure) when no answer came."""
        try:
            self._aim_safely(case)
        except NotExercised:  # a cancel or delete this target does not allow (--allow-destructive)
            return None
        keep = self._keep(case)

        def attempt() -> schemathesis.Response | None:
            self.ctx.client.admit(keep=keep)  # the run's budget and pace
            try:
                with capped_session() as session:
                    return case.call(**{**kwargs, "session": session})
            except NO_ANSWER as exc:
                self._no_answer(case, recorder, exc)
                return None

        def throttled(answer: schemathesis.Response) -> None:
            self._observe(Interaction(Request.from_prepared_request(answer.request), answer), throttled=True)

        response = until_served(attempt, _wait, self.ctx.client.sleep, throttled)
        if response is None:
            return None
        self._tally.errors_in_a_row = 0
        recorder.record_response(case_id=case.id, response=response)
        self._observe(recorder.interactions[case.id])
        return response

    def _keep(self, case: Case) -> int:
        """What the budget must hold after `case` besides the clean-up's share: the auth probes
        `ignored_auth` may send after it (counted after the fact), and the clean-up of the calls they
        and the case may create (a probe that wrongly creates one fails the check: one at most)."""
        probes = 0 if self.sampled else AUTH_PROBES
        if not calls.may_create(case.method, case.operation.path):
            return probes
        return probes + MAX_CLEANUP_COST * (1 + (probes > 0))

    def _need_destructive(self) -> None:
        if not self.ctx.env.guard.destructive_allowed:
            raise NotExercised(NOT_ALLOWED)

    def _aim_safely(self, case: Case) -> None:
        """Cancels and deletes go only to ids the suite made: a drawn id of no call of the suite's
        becomes that id behind a fresh random UUID, which keeps its oddity and names no call of anyone's."""
        env, method = self.ctx.env, case.method.upper()
        params = case.path_parameters or {}
        body: dict[str, Any] | None = case.body if isinstance(case.body, dict) else None
        holder: dict[str, Any] | None = None
        if method == "DELETE" or case.operation.path.endswith("/cancel"):
            holder = params
        elif body is not None and body.get("action") in DESTRUCTIVE_ACTIONS and isinstance(body.get("data"), dict):
            holder = body["data"]
        if holder is None or not isinstance(holder.get("call_id"), str):
            return
        if not env.guard.vouched(holder["call_id"]):  # behind 128 random bits: no one's call, even a reused id
            holder["call_id"] = env.never_existing_id() + holder["call_id"]
            env.guard.craft(holder["call_id"])
        path = f"/v1/calls/{quote(holder['call_id'], safe='')}" + ("/cancel" if method == "POST" else "")
        sent = json.dumps(body).encode() if holder is not params else None
        env.guard.check(method, "/v1/hooks/x" if sent else path, sent)

    def _validate(
        self,
        case: Case,
        response: schemathesis.Response,
        recorder: ScenarioRecorder,
        kwargs: dict[str, Any],
        extra: tuple[Any, ...] = (),
    ) -> None:
        seen = set(recorder.interactions)
        self._tally.results = []
        try:
            checks = list(extra) or None
            with capped_session() as session:  # for the requests the checks send (auth probes)
                case.validate_response(
                    response,
                    additional_checks=checks,
                    excluded_checks=self._excluded(),
                    recorder=recorder,
                    transport_kwargs={**kwargs, "session": session},
                )
        except FailureGroup:
            pass  # each failure reached `after_validate` first, under the name of its check
        except NO_ANSWER as exc:  # an auth probe got no answer
            self._no_answer(case, recorder, exc)
        for case_id, interaction in recorder.interactions.items():
            if case_id not in seen:
                self._observe(interaction, admitted=False)  # the probes the checks sent
        for result in self._tally.results:
            self._account(result, case, response, recorder)

    def _excluded(self) -> list[Any] | None:
        """Sampled, `ignored_auth` is off: it sends three requests after each 2xx, and the targeted
        property `auth_rejections` checks the same requirements."""
        return [ignored_auth] if self.sampled else None

    def _account(
        self,
        result: schemathesis.CheckResult,
        case: Case,
        response: schemathesis.Response,
        recorder: ScenarioRecorder,
    ) -> None:
        if result.name == "not_a_server_error":
            return  # `universal` judges every response it is shown, this one included
        if result.failure is not None:
            requirement = requirement_for(result.name, result.failure)
            self.ctx.results.check(requirement)
            self._record(requirement, result, case, recorder)
            return
        for applied in _applied(result.name, case, response, recorder):
            self.ctx.results.check(applied)

    def _observe(
        self, interaction: Interaction, *, throttled: bool = False, error: str | None = None, admitted: bool = True
    ) -> None:
        """Show one request schemathesis sent to the client's observers (counting it, unless `admitted`)."""
        self.ctx.client.observe_external(_exchange(interaction, error), throttled=throttled, admitted=admitted)

    # -- recording ---------------------------------------------------------------------------------

    def _record(
        self, requirement: str, result: schemathesis.CheckResult, case: Case, recorder: ScenarioRecorder
    ) -> None:
        failure = result.failure
        assert failure is not None
        failing = failure.case_id if failure.case_id in recorder.cases else case.id
        got = _outcome(recorder.find_response(case_id=failing))
        title = f"{failure.title}: got {got} ({result.name}; contract §{by_id(requirement).section})"
        chain = recorder.iter_chain_cases(case_id=failing, related_case_ids=failure.related_case_ids())
        steps = [self._step(c, recorder) for c in chain]
        self._write(requirement, f"{title} on {case.operation.label}", steps, _details(failure.message))

    def _no_answer(self, case: Case, recorder: ScenarioRecorder, exc: requests.RequestException) -> None:
        self._tally.errors_in_a_row += 1
        kind = "timed out" if isinstance(exc, requests.Timeout) else type(exc).__name__
        kind = str(exc) if isinstance(exc, AnswerTooLarge) else kind
        prepared = exc.request if isinstance(exc.request, requests.PreparedRequest) else None
        if prepared is not None:
            self._observe(Interaction(Request.from_prepared_request(prepared), None), error=kind)
        steps = [self._step(c, recorder) for c in recorder.iter_chain_cases(case_id=case.id) if c.id != case.id]
        sent = case.as_curl_command(headers=dict(prepared.headers) if prepared is not None else None)
        steps.append(render_curl(sent, self.ctx.client.secrets) + f"   # -> no answer: {kind}")
        self._write(
            NO_ANSWER_REQUIREMENT, f"No answer: {kind} (contract §1) on {case.operation.label}", steps, [str(exc)]
        )

    def _step(self, case: Case, recorder: ScenarioRecorder) -> str:
        """One request of a reproduction, as it was sent, with what came back."""
        interaction = recorder.interactions.get(case.id)
        headers = recorder.find_request_headers(case_id=case.id) if interaction is not None else None
        curl = render_curl(case.as_curl_command(headers=headers), self.ctx.client.secrets)
        return f"{curl}   # -> {_outcome(interaction.response if interaction is not None else None)}"

    def _write(self, requirement: str, message: str, steps: list[str], details: list[str]) -> None:
        secrets = self.ctx.client.secrets
        finding = Finding(requirement, secrets.redact(message))
        setup = [e.curl(secrets) + f"   # -> {e.outcome()}" for e in _setup_of(self.ctx, "\n".join(steps))]
        lines = [f"# {secrets.redact(line)}" for line in details]
        lines += [*setup, *steps, f"# replay the run: husky-conformance run --seed {self.ctx.config.seed}"]
        self.ctx.results.fail(requirement, finding.message, secrets.render(secrets.mark_text("\n".join(lines))))
        if finding not in self._tally.findings:
            self._tally.findings.append(finding)


# -- helpers --------------------------------------------------------------------------------------


def layer_config(
    *,
    seed: int,
    base_url: str | None,
    timeout: float,
    budget: Budget,
    key: str | None,
    webhook_token: str | None,
    call_ids: list[str],
) -> schemathesis.Config:
    """The layer's schemathesis config: the run's seed, target and budget, organisation A's key, and
    the real ids (seeded calls, the webhook token) generation draws from."""
    sampled = budget.breadth == "sample"
    data: dict[str, Any] = {
        "seed": seed,
        "base-url": base_url,
        "request-timeout": timeout,
        "suppress-health-check": ["all"],  # a slow or filtered generation is no fault of the target
        "generation": {
            # Fuzzing draws from both: twice the budget is about `schema_examples` of each (sampled:
            # `schema_examples` in all, the explicit representatives having one of each already).
            "mode": "all",
            "max-examples": (1 if sampled else 2) * budget.schema_examples,
            "database": "none",  # no replay of earlier failures: the same seed sends the same requests
            "no-shrink": True,  # nothing raises into Hypothesis anyway (see the module docstring)
        },
        "output": {"sanitization": {"enabled": False}},  # `render_curl` writes secrets as ${NAME}
        "dictionaries": {},
        "parameters": {},
    }
    if key:
        data["auth"] = {"openapi": {"bearerAuth": {"bearer": key}}}
    for name, values in {"call_id": call_ids, "token": [webhook_token] if webhook_token else []}.items():
        if values:  # half the generated ids (most tokens) are real ones: fuzzing reaches real calls
            data["dictionaries"][name] = {"values": values}
            for where in BINDINGS[name]:
                data["parameters"][where] = {"dictionary": name, "probability": DICTIONARY_PROBABILITY[name]}
    return schemathesis.Config.from_dict(data)


def operation_test(
    operation: Operation, modes: list[HypothesisTestMode], override: overrides.Override, test_func: Any
) -> Any:
    """The hypothesis test of one operation's phases (`modes`), calling `test_func` with each case."""
    config = operation.schema.config
    return create_test(
        operation=operation,
        test_func=test_func,
        config=HypothesisTestConfig(
            project=config,
            modes=modes,
            settings=config.get_hypothesis_settings(operation=operation, phase="fuzzing", apply_ci_profile=False),
            apply_ci_profile=False,
            seed=derive_operation_seed(config.seed, operation.label),
            override=override,
        ),
    )


def _details(message: str) -> list[str]:
    """The explanation of a schemathesis failure, without the schema and value dumps after it."""
    lines = []
    for line in message.splitlines():
        if line.startswith(DUMPS):
            break
        if line.strip():
            lines.append(line.strip())
    return lines[:MAX_DETAIL_LINES]


def _seed_calls(ctx: Context, states: tuple[str, ...]) -> list[str]:
    """Calls of organisation A in each of `states` this environment can seed (none without a way in)."""
    if ctx.env.a.key is None and not ctx.env.can_seed_any_state:
        return []
    ids = []
    for state in states:
        try:
            ids.append(ctx.env.seed_call(ctx.env.a, state))
        except NotExercised:
            continue
    return ids


def _gatherer(gathered: list[Case]) -> Any:
    def gather(case: Case) -> None:
        gathered.append(case)

    return gather


def _representatives(cases: list[Case], rng: random.Random) -> list[Case]:
    """Of an operation's explicit cases, one that follows the spec and one that breaks it, each of a
    kind drawn by the seed (the kinds: the spec's examples, and each coverage scenario)."""
    groups: dict[bool, dict[str, list[Case]]] = {False: {}, True: {}}
    for case in cases:
        coverage = _coverage(case)
        kind = str(coverage.scenario) if coverage is not None else "examples"
        groups[bool(_is_negative(case))].setdefault(kind, []).append(case)
    return [rng.choice(by_kind[rng.choice(sorted(by_kind))]) for by_kind in groups.values() if by_kind]


def _seeded_roots(machine: Any, states: list[str]) -> dict[str, tuple[str, Any]]:
    """Extra scenario starts: a linked GET or DELETE of a call id, on a call seeded in a state.

    Schemathesis starts scenarios only from operations that need no id (here: create, and cancel
    with a drawn id), and a call it creates stays queued, so no scenario of its own deletes a
    call. Started on a seeded completed call, the links take it on: GET -> DELETE -> GET, which
    `use_after_free` judges, and DELETE -> GET, which it cannot (its DELETE followed no link):
    `_still_there_check` does. The id is a placeholder naming the state until the step is sent
    (`SchemaLayer._materialise`).
    """
    roots: dict[str, tuple[str, Any]] = {}
    for label, transitions in machine._transitions.operations.items():
        operation = machine.schema.find_operation_by_label(label)
        names = {p.name for p in operation.path_parameters}
        if not states or operation.method not in ("get", "delete") or names != {"call_id"} or not transitions.outgoing:
            continue
        cases = st.sampled_from(states).flatmap(partial(_seeded_case, operation))
        name = normalize_name(f"SEEDED -> {label}")
        rule = transition(
            name=name,
            target=Bundle("catch_all"),
            input=cases.map(StepInput.initial),
            precondition=is_root_allowed(label),
        )
        roots[name] = (label, rule)
    return roots


def _seeded_case(operation: Operation, state: str) -> st.SearchStrategy[Case]:
    return operation.as_strategy(
        generation_mode=GenerationMode.POSITIVE,
        phase=TestPhase.STATEFUL,
        path_parameters={"call_id": PLACEHOLDER + state},
    )


def _wait(response: schemathesis.Response) -> float | None:
    values = response.headers.get("retry-after")
    return wait_for(response.status_code, values[0] if values else None)


def _exchange(interaction: Interaction, error: str | None) -> Exchange:
    request, response = interaction.request, interaction.response
    headers = {name: ", ".join(values) for name, values in request.headers.items()}
    if response is None:
        return Exchange(request.method, request.uri, headers, request.body, None, error=error or "no answer")
    answer = {name.lower(): ", ".join(values) for name, values in response.headers.items()}
    return Exchange(request.method, request.uri, headers, request.body, response.status_code, answer, response.content)


def _setup_of(ctx: Context, text: str) -> list[Exchange]:
    """The seeding exchanges of the seeded calls `text` mentions."""
    return [ctx.env.setup[c] for c in ctx.env.created if c in text and c in ctx.env.setup]


# -- which requirements a passing check really checked ------------------------------------------


def _is_negative(case: Case) -> bool | None:
    return case.meta.generation.mode.is_negative if case.meta is not None else None


def _coverage(case: Case) -> CoveragePhaseData | None:
    data = case.meta.phase.data if case.meta is not None else None
    return data if isinstance(data, CoveragePhaseData) else None


def _succeeded(recorder: ScenarioRecorder, case: Case | None) -> bool:
    response = recorder.find_response(case_id=case.id) if case is not None else None
    return response is not None and 200 <= response.status_code < 300


def _deletes_of(case: Case, recorder: ScenarioRecorder) -> list[Case]:
    """The DELETEs of this case's call that answered 2xx earlier in the scenario."""
    call_id = (case.path_parameters or {}).get("call_id")
    found = []
    for node in recorder.cases.values():
        other = node.value
        if other.id == case.id:
            break
        same_call = call_id is not None and (other.path_parameters or {}).get("call_id") == call_id
        if same_call and other.method.upper() == "DELETE" and _succeeded(recorder, other):
            found.append(other)
    return found


def _deleted_before(case: Case, recorder: ScenarioRecorder) -> bool:
    """Whether a linked DELETE of this call succeeded earlier (what `use_after_free` can judge)."""
    deletes = _deletes_of(case, recorder)
    return any(_succeeded(recorder, recorder.find_parent(case_id=d.id)) for d in deletes)


class CallStillThere(Failure):
    """A call deleted earlier in the scenario answered 2xx again."""

    code = "ST901"
    kind_title = "Deleted call still there"
    __slots__ = ("deleted_by",)

    def __init__(self, *, operation: str, message: str, case_id: str, deleted_by: str) -> None:
        super().__init__(operation=operation, message=message, case_id=case_id)
        self.deleted_by = deleted_by

    def related_case_ids(self) -> tuple[str, ...]:
        return (self.deleted_by,)


def _still_there_check(recorder: ScenarioRecorder) -> Any:
    """The stateful check of a scenario: after a DELETE answered 2xx, the call answers 404 (contract §5).

    `use_after_free` judges a GET after a DELETE that followed a link; this judges the rest: a
    DELETE that started the scenario, and cancel or delete again after it.
    """

    def deleted_call_answers_404(ctx: Any, response: schemathesis.Response, case: Case) -> bool | None:
        deletes = _deletes_of(case, recorder)
        if not deletes or (case.method.upper() == "GET" and _deleted_before(case, recorder)):
            return True  # nothing deleted, or `use_after_free` judges it: not applicable here
        if 200 <= response.status_code < 300:
            deleted = f"DELETE {deletes[0].formatted_path}"
            raise CallStillThere(
                operation=case.operation.label,
                message=f"Expected 404 for a deleted call, got {response.status_code}\nDeleted with `{deleted}`",
                case_id=case.id,
                deleted_by=deletes[0].id,
            )
        return None

    return deleted_call_answers_404


def _applied(name: str, case: Case, response: schemathesis.Response, recorder: ScenarioRecorder) -> list[str]:
    """The requirements a passing check checked on this response: many pass where they do not apply."""
    coverage = _coverage(case)
    scenario = coverage.scenario if coverage is not None else None
    if name == "ignored_auth":  # it probes without auth, then with invalid auth, after a 2xx
        probes = sum(1 for n in recorder.cases.values() if n.parent_id == case.id and n.transition is None)
        return ["AUTH-MISSING-401"] * (probes >= 1) + ["AUTH-UNKNOWN-401"] * (probes >= 2)
    applies = {
        "negative_data_rejection": _is_negative(case) is True,
        "positive_data_acceptance": _is_negative(case) is False,
        "missing_required_header": scenario == CoverageScenario.MISSING_PARAMETER
        and coverage is not None
        and coverage.parameter_location == ParameterLocation.HEADER,
        "unsupported_method": scenario == CoverageScenario.UNSPECIFIED_HTTP_METHOD,
        "allow_header_conformance": response.request.method == "OPTIONS",
        "use_after_free": case.method.upper() == "GET" and _deleted_before(case, recorder),
        "ensure_resource_availability": (parent := recorder.find_parent(case_id=case.id)) is not None
        and parent.method.upper() == "POST"
        and _succeeded(recorder, parent),
        "object_level_authorization": False,
    }
    return [requirement_for(name)] if applies.get(name, True) else []
