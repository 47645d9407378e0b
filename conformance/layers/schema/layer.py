"""`SchemaLayer`: schemathesis over the spec, configured for this run's target; what both phases
share: sending a case (counted, paced, 429s waited out, through `conformance.http.capped_session`), running
every check on its response, and counting each check result into the run's results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
import schemathesis
from schemathesis.core.failures import FailureGroup
from schemathesis.engine.recorder import Interaction, Request, ScenarioRecorder
from schemathesis.specs.openapi.checks import ignored_auth

from conformance.contract._resources import spec_path
from conformance.errors import NotExercised
from conformance.http.capped_session import ProxyLookup, capped_session, own_sessions_capped
from conformance.http.client import Exchange
from conformance.http.limits import AnswerTooLarge
from conformance.http.throttle import until_served, wait_for
from conformance.layers.schema import operations, stateful
from conformance.layers.schema.configuration import SAMPLED_SEEDED_STATES, SEEDED_STATES, Case, layer_config, seed_calls
from conformance.layers.schema.findings import Finding, Tally, exchange_of, record_failure, record_no_answer
from conformance.layers.schema.judging import applied, requirement_for
from conformance.layers.schema.safety import aim_safely
from conformance.target import calls
from conformance.target.ledger import MAX_CLEANUP_COST

if TYPE_CHECKING:
    from conformance.layers.context import Context

__all__ = ["SchemaLayer"]

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


class SchemaLayer:
    """Schemathesis over the spec, configured for this run's target; one per suite session."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tenant = ctx.env.a
        self.sampled = ctx.config.budget.breadth == "sample"
        self.call_ids = seed_calls(ctx, SAMPLED_SEEDED_STATES if self.sampled else SEEDED_STATES)
        self.schema = schemathesis.openapi.from_path(spec_path(), config=self._config())
        self.tally = Tally()
        self.proxies = ProxyLookup()  # the environment's, for every session the layer sends through
        self.shown: dict[str, Exchange] = {}  # case id -> its exchange: the sent case's, and its checks' probes

        def after_validate(context: Any, case: Any, response: Any, results: list[schemathesis.CheckResult]) -> None:
            self.tally.results.extend(results)  # every check's outcome, under the name of its check

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

    def run_operation(self, label: str) -> list[Finding]:
        """Examples, then coverage, then fuzzing of one operation; what it found (all recorded)."""
        return operations.run_operation(self, label)

    def run_stateful(self) -> list[Finding]:
        """`stateful_scenarios` scenarios along the spec's links, from created and from seeded calls."""
        return stateful.run_stateful(self)

    # -- sending, validating, counting (shared by both phases) ----------------------------------

    def send(self, case: Case, recorder: ScenarioRecorder, kwargs: dict[str, Any]) -> schemathesis.Response | None:
        """Send `case`, waiting out 429s; None (and a recorded failure) when no answer came."""
        try:
            aim_safely(self.ctx.env, case)
        except NotExercised:  # a cancel or delete this target does not allow (--allow-destructive)
            return None
        keep = self._keep(case)

        def attempt() -> schemathesis.Response | None:
            self.ctx.client.admit(keep=keep)  # the run's budget and pace
            try:
                with capped_session(self.proxies) as session:
                    return case.call(**{**kwargs, "session": session})
            except NO_ANSWER as exc:
                self._no_answer(case, recorder, exc)
                return None

        def throttled(answer: schemathesis.Response) -> None:
            self._observe(Interaction(Request.from_prepared_request(answer.request), answer), throttled=True)

        response = until_served(attempt, _wait, self.ctx.client.sleep, throttled)
        if response is None:
            return None
        self.tally.errors_in_a_row = 0
        recorder.record_response(case_id=case.id, response=response)
        self.shown = {case.id: self._observe(recorder.interactions[case.id])}
        return response

    def _keep(self, case: Case) -> int:
        """What the budget must hold after `case` besides the clean-up's share: the auth probes
        `ignored_auth` may send after it (counted after the fact), and the clean-up of the calls they
        and the case may create (a probe that wrongly creates one fails the check: one at most)."""
        probes = 0 if self.sampled else AUTH_PROBES
        if not calls.may_create(case.method, case.operation.path):
            return probes
        return probes + MAX_CLEANUP_COST * (1 + (probes > 0))

    def validate(
        self,
        case: Case,
        response: schemathesis.Response,
        recorder: ScenarioRecorder,
        kwargs: dict[str, Any],
        extra: tuple[Any, ...] = (),
    ) -> None:
        """Every check (and the `extra` ones) on `response`, each result counted or recorded."""
        seen = set(recorder.interactions)
        self.tally.results = []
        try:
            checks = list(extra) or None
            # The checks' requests (the auth probes) through capped sessions: this one, and those
            # schemathesis makes itself for probes it sends without it.
            with capped_session(self.proxies) as session, own_sessions_capped(self.proxies):
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
                self.shown[case_id] = self._observe(interaction, admitted=False)  # the probes the checks sent
        for result in self.tally.results:
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
        # What the check judged: the case's answer, or the probes `ignored_auth` sent after it.
        probes = result.name == "ignored_auth"
        judged = [e for case_id, e in self.shown.items() if (case_id != case.id) == probes]
        if result.failure is not None:
            requirement = requirement_for(result.name, result.failure)
            self.ctx.count(requirement, judged)
            record_failure(self.ctx, self.tally, requirement, result, case, recorder)
            return
        for requirement in applied(result.name, case, response, recorder):
            self.ctx.count(requirement, judged)

    def _observe(
        self, interaction: Interaction, *, throttled: bool = False, error: str | None = None, admitted: bool = True
    ) -> Exchange:
        """Show one request schemathesis sent to the client's observers (counting it, unless `admitted`)."""
        exchange = exchange_of(interaction, error)
        self.ctx.client.observe_external(exchange, throttled=throttled, admitted=admitted)
        return exchange

    def _no_answer(self, case: Case, recorder: ScenarioRecorder, exc: requests.RequestException) -> None:
        self.tally.errors_in_a_row += 1
        kind = "timed out" if isinstance(exc, requests.Timeout) else type(exc).__name__
        kind = str(exc) if isinstance(exc, AnswerTooLarge) else kind
        sent = None
        if isinstance(exc.request, requests.PreparedRequest):
            sent = self._observe(Interaction(Request.from_prepared_request(exc.request), None), error=kind)
        record_no_answer(self.ctx, self.tally, case, recorder, exc, kind, sent)


def _wait(response: schemathesis.Response) -> float | None:
    values = response.headers.get("retry-after")
    return wait_for(response.status_code, values[0] if values else None)
