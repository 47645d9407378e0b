"""What schemathesis' checks judge: the requirement each check checks, the requirements a passing
check really checked on a response (many pass where they do not apply), and our own stateful
check, for what `use_after_free` cannot judge."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.core.failures import Failure
from schemathesis.core.parameters import ParameterLocation
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario

from conformance.layers.schema.configuration import Case

__all__ = [
    "CHECK_REQUIREMENTS",
    "NO_ANSWER_REQUIREMENT",
    "CallStillThere",
    "applied",
    "coverage_of",
    "is_negative",
    "requirement_for",
    "still_there_check",
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
    # Ours, in the stateful phase: what `use_after_free` cannot judge (see `still_there_check`).
    "deleted_call_answers_404": "DEL-GONE",
}
UNKNOWN_CHECK_REQUIREMENT = "SCHEMA-RESPONSES"
NO_ANSWER_REQUIREMENT = "ENV-NO-5XX"  # no answer at all is worse than a 5xx


def requirement_for(check: str, failure: object | None = None) -> str:
    """The requirement a schemathesis check (and, for `ignored_auth`, its failed probe) checks."""
    if check == "ignored_auth" and str(getattr(failure, "scenario", "no_auth")) != "no_auth":
        return "AUTH-UNKNOWN-401"
    return CHECK_REQUIREMENTS.get(check, UNKNOWN_CHECK_REQUIREMENT)


# -- which requirements a passing check really checked ------------------------------------------


def is_negative(case: Case) -> bool | None:
    return case.meta.generation.mode.is_negative if case.meta is not None else None


def coverage_of(case: Case) -> CoveragePhaseData | None:
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


def still_there_check(recorder: ScenarioRecorder) -> Any:
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


def applied(name: str, case: Case, response: schemathesis.Response, recorder: ScenarioRecorder) -> list[str]:
    """The requirements a passing check checked on this response: many pass where they do not apply."""
    coverage = coverage_of(case)
    scenario = coverage.scenario if coverage is not None else None
    if name == "ignored_auth":  # it probes without auth, then with invalid auth, after a 2xx
        probes = sum(1 for n in recorder.cases.values() if n.parent_id == case.id and n.transition is None)
        return ["AUTH-MISSING-401"] * (probes >= 1) + ["AUTH-UNKNOWN-401"] * (probes >= 2)
    applies = {
        "negative_data_rejection": is_negative(case) is True,
        "positive_data_acceptance": is_negative(case) is False,
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
