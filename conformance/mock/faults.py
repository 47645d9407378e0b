"""Deliberate, realistic contract violations the mock can be started with (`--fault NAME`).

Each fault is what a hurried implementer might write, and is coded as a branch right at the rule
it breaks (grep for its name), never as a second implementation. `requirements` are the
requirement ids the suite must name when it runs against the fault; `strict` faults break only
SHOULD rules, so the suite fails on them only under `--strict`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAULTS", "Fault", "unknown_faults"]


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    requirements: tuple[str, ...]
    strict: bool = False


def _f(name: str, description: str, *requirements: str, strict: bool = False) -> Fault:
    return Fault(name, description, requirements, strict)


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        # delete
        _f("repeat-delete-200", "a repeated delete answers 200 again (tombstones)", "DEL-REPEAT-404"),
        _f("delete-queued", "delete accepted for queued calls", "DEL-NOT-COMPLETED-404"),
        _f("delete-cancelled", "delete accepted for cancelled calls", "DEL-NOT-COMPLETED-404"),
        _f("delete-failed", "delete accepted for failed calls", "DEL-NOT-COMPLETED-404"),
        _f("delete-in-flight", "delete accepted for initiated, ringing and in-progress calls", "DEL-NOT-COMPLETED-404"),
        _f("soft-delete", "delete answers 200 but keeps the call, PII and all", "DEL-GONE", "DEL-ERASURE"),
        _f("erasure-keeps-recording", "later 404s for a deleted call name its recording URL", "DEL-ERASURE"),
        _f("pii-in-error", "a repeated delete's 404 message names the deleted contact", "DEL-ERASURE"),
        _f(
            "refused-delete-side-effect",
            "a refused delete still wipes the call's contact name",
            "DEL-NOT-COMPLETED-404",
        ),
        _f("delete-204", "delete answers 204 with no body instead of 200", "DEL-COMPLETED-200"),
        _f("delete-unwrapped-body", 'delete answers {"call_id", "deleted"} without "data"', "DEL-COMPLETED-200"),
        _f("delete-race", "delete checks, waits, then erases: concurrent deletes all succeed", "DEL-CONCURRENT-ONCE"),
        # cancel
        _f(
            "cancel-in-flight",
            "cancel accepted for initiated, ringing and in-progress calls",
            "CANCEL-PAST-QUEUED-REFUSED",
        ),
        _f("cancel-completed", "cancel accepted for completed and failed calls", "CANCEL-PAST-QUEUED-REFUSED"),
        _f("repeat-cancel-409", "cancelling a cancelled call answers 409", "CANCEL-REPEAT-200"),
        _f("cancel-drops-pii", "cancel clears the contact's name and email", "CANCEL-KEEPS-RECORD"),
        _f("cancel-deletes-record", "cancel erases the call instead of keeping it", "CANCEL-KEEPS-RECORD"),
        _f("cancel-422", "cancel past queued answers 422 instead of 409", "CANCEL-PAST-QUEUED-409", strict=True),
        # organisations
        _f("cross-org-delete", "delete finds other organisations' calls", "TENANT-404", "TENANT-UNTOUCHED"),
        _f("cross-org-cancel", "cancel finds other organisations' calls", "TENANT-404", "TENANT-UNTOUCHED"),
        _f("cross-org-get", "GET shows other organisations' calls", "TENANT-404"),
        _f("foreign-403", "another organisation's call answers 403 instead of 404", "TENANT-404"),
        # authentication and scopes
        _f("auth-after-existence", "an id no one has answers 404 before the key is checked", "AUTH-BEFORE-EXISTENCE"),
        _f("scope-after-existence", "the scope is checked only once the call is found", "AUTH-BEFORE-EXISTENCE"),
        _f("scope-ignored", "a key without calls:delete can delete", "AUTH-SCOPE-REFUSED"),
        _f("revoked-accepted", "revoked keys still work", "AUTH-REVOKED-401"),
        _f("x-api-key-refused", "only Authorization: Bearer is accepted", "AUTH-X-API-KEY"),
        _f("bearer-refused", "only x-api-key is accepted", "AUTH-BEARER"),
        _f("bearer-wins", "with two different keys, the Authorization one is used", "AUTH-HEADERS-DISAGREE-401"),
        # webhook
        _f("webhook-token-unchecked", "any webhook token acts for the first organisation", "HOOK-UNKNOWN-TOKEN-401"),
        _f("webhook-any-org", "webhook actions find other organisations' calls", "TENANT-404"),
        _f(
            "webhook-delete-noop", "webhook call.delete answers 200 and deletes nothing", "HOOK-EQUIVALENCE", "DEL-GONE"
        ),
        _f("webhook-repeat-cancel-409", "webhook cancel of a cancelled call answers 409", "HOOK-EQUIVALENCE"),
        _f(
            "webhook-unknown-action-deletes",
            "an unknown webhook action is taken as call.delete",
            "HOOK-BAD-BODY-REFUSED",
        ),
        # ids and envelopes
        _f("loose-id-prefix", "an id prefix of 8+ characters finds the call", "ID-EXACT-MATCH"),
        _f("loose-id-case", "ids match case-insensitively", "ID-EXACT-MATCH"),
        _f("loose-id-whitespace", "ids are stripped of surrounding whitespace", "ID-EXACT-MATCH"),
        _f("odd-id-500", "ids over 64 characters or with non-ASCII crash (500)", "ID-ODD-NO-5XX", "ENV-NO-5XX"),
        _f("flat-error-envelope", 'errors are {"code", "message"} without "error"', "ENV-ERROR-ENVELOPE"),
        _f("text-errors", "404s are text/plain 'Not Found'", "ENV-ERROR-ENVELOPE"),
        _f("undocumented-error-code", "404s use the code CALL_NOT_FOUND", "ENV-ERROR-ENVELOPE"),
    )
}


def unknown_faults(names: frozenset[str]) -> list[str]:
    return sorted(names - FAULTS.keys())
