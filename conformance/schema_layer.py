"""The schema layer: schemathesis, driven from inside the suite, against the suite's target.

This module owns the translation both ways. The run's target (with its base path), seed, budget,
organisation A's key, its webhook token and calls seeded in every state the environment allows
become one schemathesis config. Every check result schemathesis reports becomes a counted check,
and every failure a recorded one, of a requirement of the catalogue (`CHECK_REQUIREMENTS`), with
schemathesis' curl reproduction, secrets turned into `${NAME}` references, and the seed.

Nothing schemathesis raises about the target escapes: check failures and network errors are
recorded and the run goes on with the next example. We record instead of raising into Hypothesis
(which would shrink) on purpose: the target is stateful, so a shrink replays requests against a
server that has moved on (a deleted call stays deleted), which makes shrinking flaky and costly;
and the examples and coverage phases, which run first, already send minimal one-deviation
requests, whose failure is the one kept (the results keep the first failure of each message).
With the seed fixed and no example database, the same seed sends the same requests.

Schemathesis sends through `requests`, not the suite's client; its requests (probes included)
are counted into the run's total here, and 429s are waited out as the client does.

The per-operation phases use `create_test`, the builder schemathesis' pytest plugin and its
engine share: it is not public API, which is one more reason schemathesis is pinned exactly.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import hypothesis
import requests
import schemathesis
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.generation import derive_operation_seed, overrides
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario, TestPhase

from ._resources import spec_path
from .client import MAX_RETRY_AFTER, MAX_THROTTLE_RETRIES
from .errors import NotExercised
from .redaction import Secrets
from .requirements import by_id

if TYPE_CHECKING:
    from .checks import Context

__all__ = ["CHECK_REQUIREMENTS", "SchemaLayer", "operation_labels", "render_curl", "requirement_for"]

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
    "object_level_authorization": "TENANT-404",  # needs two identities; never applies with one
}
UNKNOWN_CHECK_REQUIREMENT = "SCHEMA-RESPONSES"
NO_ANSWER_REQUIREMENT = "ENV-NO-5XX"  # no answer at all is worse than a 5xx
SEEDED_STATES = ("queued", "initiated", "ringing", "in_progress", "failed", "cancelled") + ("completed",) * 5
DICTIONARY_PROBABILITY = {"call_id": 0.5, "token": 0.8}
MAX_NETWORK_ERRORS = 3  # in a row: the target is down, skip what is left of the operation
MAX_DETAIL_LINES = 8


def requirement_for(check: str, failure: object | None = None) -> str:
    """The requirement a schemathesis check (and, for `ignored_auth`, its failed probe) checks."""
    if check == "ignored_auth" and str(getattr(failure, "scenario", "no_auth")) != "no_auth":
        return "AUTH-UNKNOWN-401"
    return CHECK_REQUIREMENTS.get(check, UNKNOWN_CHECK_REQUIREMENT)


def operation_labels() -> list[str]:
    """`METHOD /path` of every operation of the spec, in spec order (for test ids; no target needed)."""
    schema = schemathesis.openapi.from_path(spec_path(), config=schemathesis.Config())
    return [result.ok().label for result in schema.get_all_operations()]


# -- reproductions --------------------------------------------------------------------------------


def _shell_word(word: str, secrets: Secrets) -> str:
    """`word` quoted for a shell, every known secret (plain or percent-encoded) a `${NAME}` reference."""
    names = secrets.names()
    forms = {form: name for value, name in names.items() for form in (value, quote(value, safe=""))}
    if not any(form in word for form in forms):
        return shlex.quote(word)
    for form in sorted(forms, key=len, reverse=True):
        word = word.replace(form, "\0" + forms[form] + "\0")
    for char in ("\\", '"', "`", "$"):
        word = word.replace(char, "\\" + char)
    parts = word.split("\0")
    return '"' + "".join("${" + p + "}" if i % 2 else p for i, p in enumerate(parts)) + '"'


def render_curl(curl: str, secrets: Secrets) -> str:
    """Schemathesis' curl command, runnable once the `${NAME}` variables are set, and secret-free."""
    command, _, warnings = curl.partition("\n\n")
    try:
        words = shlex.split(command)
    except ValueError:
        rendered = command
    else:
        rendered = " ".join(_shell_word(word, secrets) for word in words)
    notes = [f"# {line}" for line in warnings.splitlines() if line.strip()]
    return secrets.redact("\n".join([rendered, *notes]))


def _outcome(response: schemathesis.Response | None) -> str:
    return "no answer" if response is None else str(response.status_code)


# -- the layer ------------------------------------------------------------------------------------


@dataclass
class _Tally:
    """What one operation or the stateful phase did: requests sent, and network errors in a row."""

    requests: int = 0
    throttled: int = 0
    errors_in_a_row: int = 0
    results: list[schemathesis.CheckResult] = field(default_factory=list)

    @property
    def target_down(self) -> bool:
        return self.errors_in_a_row >= MAX_NETWORK_ERRORS


class SchemaLayer:
    """Schemathesis over the spec, configured for this run's target; one per suite session."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tenant = ctx.env.a
        self.call_ids = _seed_calls(ctx)
        self.schema = schemathesis.openapi.from_path(spec_path(), config=self._config())
        self.schema.hook("after_validate")(self._collect)
        self._tally = _Tally()

    def _config(self) -> schemathesis.Config:
        ctx = self.ctx
        assert ctx.config.target_url is not None
        data: dict[str, Any] = {
            "seed": ctx.config.seed,
            "base-url": ctx.config.target_url,  # with the target's base path, as the client has it
            "request-timeout": ctx.config.timeout,
            "suppress-health-check": ["all"],  # a slow or filtered generation is no fault of the target
            # Fuzzing draws from both modes: twice the budget gives about `schema_examples` of each.
            "generation": {"mode": "all", "max-examples": 2 * ctx.config.budget.schema_examples},
            "output": {"sanitization": {"enabled": False}},  # `render_curl` turns secrets into ${NAME}
            "dictionaries": {},
            "parameters": {},
        }
        data["generation"].update({"database": "none", "no-shrink": True})
        if self.tenant.key:
            data["auth"] = {"openapi": {"bearerAuth": {"bearer": self.tenant.key}}}
        real = {"call_id": self.call_ids, "token": [self.tenant.webhook_token] if self.tenant.webhook_token else []}
        for name, values in real.items():
            if values:
                data["dictionaries"][name] = {"values": values}
                data["parameters"][f"path.{name}"] = {"dictionary": name, "probability": DICTIONARY_PROBABILITY[name]}
        return schemathesis.Config.from_dict(data)

    # -- per operation: examples, coverage, fuzzing ---------------------------------------------

    def run_operation(self, label: str) -> None:
        """Examples, then coverage, then fuzzing of one operation; every finding recorded."""
        operation = self.schema.find_operation_by_label(label)
        if operation is None:
            raise KeyError(f"no operation {label!r} in the spec")
        if operation.security.has_security() if hasattr(operation, "security") else _declares_security(operation):
            self.tenant.need_key()
        self._tally = _Tally()
        try:
            for modes, override in self._phases(operation):
                config = self.schema.config
                test = create_test(
                    operation=operation,
                    test_func=self._run_case,
                    config=HypothesisTestConfig(
                        project=config,
                        modes=modes,
                        settings=config.get_hypothesis_settings(
                            operation=operation, phase="fuzzing", apply_ci_profile=False
                        ),
                        apply_ci_profile=False,
                        seed=derive_operation_seed(config.seed, label),
                        override=override,
                    ),
                )
                test()
        finally:
            self._count_requests()

    def _phases(self, operation: Any) -> Iterator[tuple[list[HypothesisTestMode], overrides.Override]]:
        override = overrides.with_config_headers(self.schema.config, operation=operation)
        explicit = overrides.with_config_headers(self.schema.config, operation=operation)
        token = self.tenant.webhook_token
        if token and any(p.name == "token" for p in operation.path_parameters):
            # Without the real token every explicit case of the webhook is a 401 that tests no body.
            explicit.path_parameters["token"] = token
        yield [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE], explicit
        yield [HypothesisTestMode.FUZZING], override

    def _run_case(self, case: schemathesis.Case) -> None:
        if self._tally.target_down:
            return
        recorder = ScenarioRecorder(label=case.operation.label)
        recorder.record_case(case=case)
        response = self._send(case, recorder, case.call)
        if response is not None:
            self._validate(case, response, recorder, {})

    # -- sending and validating (shared with the stateful phase) ---------------------------------

    def _send(
        self,
        case: schemathesis.Case,
        recorder: ScenarioRecorder,
        send: Callable[..., schemathesis.Response],
        **kwargs: Any,
    ) -> schemathesis.Response | None:
        """Send `case`, waiting out 429s; None (and a recorded failure) when no answer came."""
        for attempt in range(MAX_THROTTLE_RETRIES + 1):
            self._tally.requests += 1
            try:
                response = send(**kwargs)
            except requests.RequestException as exc:
                self._no_answer(case, recorder, exc)
                return None
            if response.status_code != 429 or attempt == MAX_THROTTLE_RETRIES:
                break
            self._tally.throttled += 1
            time.sleep(_retry_after(response))
        self._tally.errors_in_a_row = 0
        recorder.record_response(case_id=case.id, response=response)
        return response

    def _validate(
        self,
        case: schemathesis.Case,
        response: schemathesis.Response,
        recorder: ScenarioRecorder,
        kwargs: dict[str, Any],
    ) -> None:
        seen = set(recorder.interactions)
        self._tally.results = []
        try:
            case.validate_response(response, recorder=recorder, transport_kwargs=kwargs or None)
        except FailureGroup:
            pass  # each failure reached `_collect` first, with the name of its check
        except requests.RequestException as exc:  # an auth probe got no answer
            self._tally.requests += 1
            self._no_answer(case, recorder, exc)
        self._tally.requests += len(set(recorder.interactions) - seen)  # the probes checks sent
        for result in self._tally.results:
            self._account(result, case, response, recorder)

    def _collect(
        self, context: Any, case: schemathesis.Case, response: Any, results: list[schemathesis.CheckResult]
    ) -> None:
        self._tally.results.extend(results)

    def _account(
        self,
        result: schemathesis.CheckResult,
        case: schemathesis.Case,
        response: schemathesis.Response,
        recorder: ScenarioRecorder,
    ) -> None:
        requirement = requirement_for(result.name, result.failure)
        if result.failure is not None:
            self.ctx.results.check(requirement)
            self._record(requirement, result, case, recorder)
            return
        for applied in _applied(result.name, case, response, recorder):
            self.ctx.results.check(applied)

    def _count_requests(self) -> None:
        # TODO(core): a public `Client.count_external(requests, throttled)` would be cleaner.
        client, tally = self.ctx.client, self._tally
        with client._lock:
            client.requests += tally.requests
            client.throttled += tally.throttled
        tally.requests = tally.throttled = 0

    # -- recording ---------------------------------------------------------------------------------

    def _record(
        self, requirement: str, result: schemathesis.CheckResult, case: schemathesis.Case, recorder: ScenarioRecorder
    ) -> None:
        failure = result.failure
        assert failure is not None
        failing_id = failure.case_id if failure.case_id in recorder.cases else case.id
        got = _outcome(recorder.find_response(case_id=failing_id))
        section = by_id(requirement).section
        message = f"{case.operation.label}: {failure.title} ({result.name}: got {got}; contract §{section})"
        chain = list(recorder.iter_chain_cases(case_id=failing_id, related_case_ids=failure.related_case_ids()))
        details = [line for line in failure.message.splitlines() if line.strip()][:MAX_DETAIL_LINES]
        self._fail(requirement, message, chain, recorder, details)

    def _no_answer(self, case: schemathesis.Case, recorder: ScenarioRecorder, exc: requests.RequestException) -> None:
        self._tally.errors_in_a_row += 1
        kind = "timed out" if isinstance(exc, requests.Timeout) else type(exc).__name__
        message = f"{case.operation.label}: no answer ({kind}; contract §1)"
        request = exc.request if isinstance(exc.request, requests.PreparedRequest) else None
        chain = [c for c in recorder.iter_chain_cases(case_id=case.id) if c.id != case.id]
        lines = [self._step(c, recorder) for c in chain]
        sent = _curl_of_request(request) if request is not None else case.as_curl_command()
        lines.append(render_curl(sent, self.ctx.client.secrets) + f"   # -> no answer: {kind}")
        self._write(NO_ANSWER_REQUIREMENT, message, lines, [str(exc)])

    def _fail(
        self,
        requirement: str,
        message: str,
        chain: list[schemathesis.Case],
        recorder: ScenarioRecorder,
        details: list[str],
    ) -> None:
        self._write(requirement, message, [self._step(c, recorder) for c in chain], details)

    def _step(self, case: schemathesis.Case, recorder: ScenarioRecorder) -> str:
        interaction = recorder.interactions.get(case.id)
        headers = recorder.find_request_headers(case_id=case.id) if interaction is not None else None
        curl = case.as_curl_command(headers=headers)
        response = interaction.response if interaction is not None else None
        return render_curl(curl, self.ctx.client.secrets) + f"   # -> {_outcome(response)}"

    def _write(self, requirement: str, message: str, steps: list[str], details: list[str]) -> None:
        secrets = self.ctx.client.secrets
        setup = [e.curl(secrets) + f"   # -> {e.outcome()}" for e in _setup_of(self.ctx, "\n".join(steps))]
        lines = [f"# {secrets.redact(line)}" for line in details]
        lines += [*setup, *steps, f"# replay the run: husky-conformance run --seed {self.ctx.config.seed}"]
        self.ctx.results.fail(requirement, secrets.redact(message), secrets.redact("\n".join(lines)))


# -- helpers --------------------------------------------------------------------------------------


def _seed_calls(ctx: Context) -> list[str]:
    """Calls of organisation A in every state this environment can seed, several completed."""
    if ctx.env.a.key is None and not ctx.env.can_seed_any_state:
        return []
    ids = []
    for state in SEEDED_STATES:
        try:
            ids.append(ctx.env.seed_call(ctx.env.a, state))
        except NotExercised:
            continue
    return ids


def _declares_security(operation: Any) -> bool:
    security = operation.definition.raw.get("security", operation.schema.raw_schema.get("security", []))
    return bool(security) and all(requirement for requirement in security)


def _retry_after(response: schemathesis.Response) -> float:
    values = response.headers.get("retry-after") or ["1"]
    value = values[0] if isinstance(values, list) else str(values)
    return min(float(value), MAX_RETRY_AFTER) if value.isdigit() else 1.0


def _curl_of_request(request: requests.PreparedRequest) -> str:
    words = ["curl", "-X", str(request.method)]
    for name, value in request.headers.items():
        words += ["-H", f"{name}: {value}"]
    body = request.body
    if body:
        words += ["-d", body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)]
    words.append(str(request.url))
    return shlex.join(words)


def _setup_of(ctx: Context, text: str) -> list[Any]:
    """The seeding exchanges of the seeded calls `text` mentions."""
    return [ctx.env.setup[c] for c in ctx.env.created if c in text and c in ctx.env.setup]


def _mode_is(case: schemathesis.Case, negative: bool) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_negative == negative


def _coverage_scenario(case: schemathesis.Case) -> CoveragePhaseData | None:
    meta = case.meta
    data = meta.phase.data if meta is not None else None
    return data if isinstance(data, CoveragePhaseData) else None


def _probes(case: schemathesis.Case, recorder: ScenarioRecorder) -> int:
    return sum(1 for node in recorder.cases.values() if node.parent_id == case.id and node.transition is None)


def _deleted_before(case: schemathesis.Case, recorder: ScenarioRecorder) -> bool:
    call_id = (case.path_parameters or {}).get("call_id")
    for node in recorder.cases.values():
        other = node.value
        if other.id == case.id:
            return False
        response = recorder.find_response(case_id=other.id)
        if (
            other.method.upper() == "DELETE"
            and (other.path_parameters or {}).get("call_id") == call_id
            and response is not None
            and 200 <= response.status_code < 300
        ):
            return True
    return False


def _created_parent(case: schemathesis.Case, recorder: ScenarioRecorder) -> bool:
    parent = recorder.find_parent(case_id=case.id)
    response = recorder.find_response(case_id=parent.id) if parent is not None else None
    return (
        parent is not None and parent.method.upper() == "POST" and response is not None and response.status_code < 300
    )


def _applied(
    name: str, case: schemathesis.Case, response: schemathesis.Response, recorder: ScenarioRecorder
) -> list[str]:
    """The requirements a passing check really checked on this response (many checks pass vacuously)."""
    coverage = _coverage_scenario(case)
    applies: dict[str, Callable[[], bool]] = {
        "negative_data_rejection": lambda: _mode_is(case, negative=True),
        "positive_data_acceptance": lambda: _mode_is(case, negative=False),
        "missing_required_header": lambda: (
            coverage is not None
            and coverage.scenario == CoverageScenario.MISSING_PARAMETER
            and coverage.parameter_location is not None
            and coverage.parameter_location.value == "header"
        ),
        "unsupported_method": lambda: (
            coverage is not None and coverage.scenario == CoverageScenario.UNSPECIFIED_HTTP_METHOD
        ),
        "allow_header_conformance": lambda: response.request.method == "OPTIONS",
        "use_after_free": lambda: case.method.upper() == "GET" and _deleted_before(case, recorder),
        "ensure_resource_availability": lambda: _created_parent(case, recorder),
        "object_level_authorization": lambda: False,
    }
    if name == "ignored_auth":
        probes = _probes(case, recorder)
        return ["AUTH-MISSING-401"] * (probes >= 1) + ["AUTH-UNKNOWN-401"] * (probes >= 2)
    return [requirement_for(name)] if applies.get(name, lambda: True)() else []


__all__ += ["TestPhase", "Unsatisfiable", "hypothesis"]  # re-exported for the stateful phase below
