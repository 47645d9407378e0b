"""The requirement catalogue: every rule the suite checks, with its level and contract section.

Ids are stable: reports, JUnit test cases and failure messages name them, and each one traces
back to a line of `contract.md`. MUST failures fail the verdict; SHOULD failures only under
`--strict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["REQUIREMENTS", "Requirement", "by_id", "render_table"]

Level = Literal["MUST", "SHOULD"]


@dataclass(frozen=True)
class Requirement:
    id: str
    level: Level
    statement: str
    section: str  # where contract.md says it


def _r(id: str, level: Level, section: str, statement: str) -> Requirement:
    return Requirement(id, level, statement, section)


REQUIREMENTS: tuple[Requirement, ...] = (
    # 1. Transport and envelopes
    _r(
        "ENV-ERROR-ENVELOPE",
        "MUST",
        "1",
        'Every 4xx and 5xx body is {"error": {"code", "message"}} with a documented code.',
    ),
    _r("ENV-NO-5XX", "MUST", "1", "No request, however malformed, gets a 5xx answer."),
    _r("ENV-JSON", "SHOULD", "1", "Responses with a body are application/json, errors included."),
    _r("ENV-UNKNOWN-ROUTE-404", "SHOULD", "1", "An unknown route answers 404 in the error envelope."),
    _r("ENV-WRONG-METHOD-405", "SHOULD", "1", "A wrong method on a known route answers 405."),
    # 2. Authentication and scopes
    _r("AUTH-BEARER", "MUST", "2", "Every REST operation accepts the key as `Authorization: Bearer <key>`."),
    _r("AUTH-X-API-KEY", "MUST", "2", "Every REST operation accepts the key as `x-api-key: <key>`."),
    _r("AUTH-HEADERS-DISAGREE-401", "MUST", "2", "Both key headers with different keys answer 401."),
    _r("AUTH-MISSING-401", "MUST", "2", "A request without a key answers 401 UNAUTHORIZED."),
    _r(
        "AUTH-MALFORMED-401",
        "MUST",
        "2",
        "An empty key or a malformed Authorization scheme answers 401 UNAUTHORIZED.",
    ),
    _r("AUTH-UNKNOWN-401", "MUST", "2", "An unknown key answers 401 UNAUTHORIZED."),
    _r("AUTH-REVOKED-401", "MUST", "2", "A revoked key answers 401 UNAUTHORIZED."),
    _r(
        "AUTH-SCOPE-REFUSED",
        "MUST",
        "2",
        "A key without the operation's scope is refused (401 or 403) with no side effect.",
    ),
    _r("AUTH-SCOPE-403", "SHOULD", "2", "A key without the operation's scope answers 403 FORBIDDEN."),
    _r(
        "AUTH-BEFORE-EXISTENCE",
        "MUST",
        "2",
        "Failed auth answers identically for existing, deleted, foreign and unknown calls.",
    ),
    _r(
        "TENANT-404",
        "MUST",
        "2",
        "Another organisation's call answers 404 NOT_FOUND, as a call that never existed.",
    ),
    _r(
        "TENANT-UNTOUCHED",
        "MUST",
        "2",
        "Requests against another organisation's call leave it exactly as it was.",
    ),
    # 3. Call ids
    _r(
        "ID-ODD-NO-5XX",
        "MUST",
        "3",
        "Odd path ids (long, unicode, encoded, dot segments, empty) never get a 5xx.",
    ),
    _r("ID-ODD-404", "SHOULD", "3", "Odd path ids answer 404 NOT_FOUND rather than 400 or 422."),
    _r(
        "ID-EXACT-MATCH",
        "MUST",
        "3",
        "Prefix, suffix, case, whitespace, encoding and path tricks never reach another call.",
    ),
    _r(
        "ID-NEVER-REUSED",
        "MUST",
        "3",
        "A create answers an id no other call has or ever had (deleted ones included); idempotent replays aside.",
    ),
    # 5. Operations: create and get
    _r(
        "CREATE-201-QUEUED",
        "SHOULD",
        "5",
        'POST /v1/calls answers 201 {"data": Call} with status queued, readable by GET.',
    ),
    _r("CREATE-VALIDATION-400", "SHOULD", "5", "An invalid create body answers 400 VALIDATION_ERROR."),
    _r(
        "CREATE-IDEMPOTENT",
        "SHOULD",
        "5",
        "The same Idempotency-Key and body give the same call; another body gives 409.",
    ),
    _r("GET-CALL", "SHOULD", "5", 'GET of an own call answers 200 {"data": Call} with the documented fields.'),
    # 5. Operations: cancel
    _r(
        "CANCEL-QUEUED-200",
        "MUST",
        "5",
        "Cancelling a queued call answers 200 with the cancel body; the call becomes cancelled.",
    ),
    _r("CANCEL-KEEPS-RECORD", "MUST", "5", "A cancelled call keeps its record and all its PII."),
    _r("CANCEL-REPEAT-200", "MUST", "5", "Cancelling a cancelled call again answers the same 200."),
    _r(
        "CANCEL-PAST-QUEUED-REFUSED",
        "MUST",
        "5",
        "Cancel past queued is a 4xx that leaves the call exactly as it was.",
    ),
    _r("CANCEL-PAST-QUEUED-409", "SHOULD", "5", "Cancel past queued answers 409 CALL_NOT_CANCELLABLE."),
    _r(
        "CANCEL-NOT-FOUND-404",
        "MUST",
        "5",
        "Cancel of an unknown, deleted or foreign call answers 404 NOT_FOUND.",
    ),
    # 5. Operations: delete
    _r(
        "DEL-COMPLETED-200",
        "MUST",
        "5",
        'Deleting a completed call answers 200 {"data": {"call_id", "deleted": true}}.',
    ),
    _r(
        "DEL-GONE",
        "MUST",
        "5",
        "A deleted call answers 404 to GET, cancel and delete, over REST and webhook.",
    ),
    _r(
        "DEL-ERASURE",
        "MUST",
        "5",
        "After a delete, no response of any endpoint contains any of the call's PII.",
    ),
    _r("DEL-REPEAT-404", "MUST", "5", "Deleting a deleted call answers 404 NOT_FOUND."),
    _r(
        "DEL-NOT-COMPLETED-404",
        "MUST",
        "5",
        "Delete of a call in any other state answers 404 and leaves it exactly as it was.",
    ),
    _r("DEL-NOT-FOUND-404", "MUST", "5", "Delete of an unknown or foreign call answers 404 NOT_FOUND."),
    _r(
        "DEL-CONCURRENT-ONCE",
        "MUST",
        "5",
        "Concurrent deletes of one completed call: exactly one 200, every other 404.",
    ),
    # 6. Inbound webhook
    _r(
        "HOOK-UNKNOWN-TOKEN-401",
        "MUST",
        "6",
        "An unknown webhook token answers 401 UNAUTHORIZED, whatever the call.",
    ),
    _r(
        "HOOK-EQUIVALENCE",
        "MUST",
        "6",
        "Webhook cancel and delete match REST: status, body shape and change of state.",
    ),
    _r("HOOK-BAD-BODY-REFUSED", "MUST", "6", "A bad webhook body is a 4xx with no side effect."),
    _r("HOOK-BAD-BODY-400", "SHOULD", "6", "A bad webhook body answers 400 VALIDATION_ERROR."),
    _r(
        "HOOK-CREATE",
        "SHOULD",
        "6",
        "Webhook call.create answers 200 with success, call_id and status queued.",
    ),
    # 7. Rate limits
    _r(
        "RATE-LIMIT-429",
        "MUST",
        "7",
        "A throttled request answers 429 RATE_LIMIT_EXCEEDED with Retry-After in whole seconds.",
    ),
    # The schema layer: the spec renders the contract
    _r(
        "SCHEMA-RESPONSES",
        "MUST",
        "1,5,6",
        "Responses to schema-generated requests match the spec's schemas and content types.",
    ),
    _r(
        "SCHEMA-STATUS-DOCUMENTED",
        "SHOULD",
        "5,6",
        "Responses to schema-generated requests use documented status codes.",
    ),
    _r("SCHEMA-NEGATIVE-REJECTED", "SHOULD", "5,6", "Requests that violate the spec are rejected with a 4xx."),
    _r(
        "SCHEMA-POSITIVE-ACCEPTED",
        "SHOULD",
        "5,6",
        "Requests that follow the spec are not rejected as invalid.",
    ),
)

_BY_ID = {requirement.id: requirement for requirement in REQUIREMENTS}


def by_id(requirement_id: str) -> Requirement:
    """The requirement with this id; KeyError names an id that is not in the catalogue."""
    return _BY_ID[requirement_id]


def render_table() -> str:
    """The catalogue as a fixed-width table (`husky-conformance requirements`)."""
    width = max(len(r.id) for r in REQUIREMENTS)
    lines = [f"{'id':<{width}}  level   §      statement", f"{'-' * width}  ------  -----  {'-' * 9}"]
    lines += [f"{r.id:<{width}}  {r.level:<6}  {r.section:<5}  {r.statement}" for r in REQUIREMENTS]
    musts = sum(r.level == "MUST" for r in REQUIREMENTS)
    lines.append(f"{len(REQUIREMENTS)} requirements: {musts} MUST, {len(REQUIREMENTS) - musts} SHOULD")
    return "\n".join(lines)
