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
        # issue 13: auth rules under each credential form, and adversarial credentials
        _f("x-api-key-revoked-accepted", "revoked keys work when sent as x-api-key", "AUTH-REVOKED-401"),
        _f("x-api-key-scope-ignored", "scopes are not checked for keys sent as x-api-key", "AUTH-SCOPE-REFUSED"),
        _f("scope-from-org-keys", "scopes are judged from all of the organisation's keys", "AUTH-SCOPE-REFUSED"),
        _f("delete-accepts-cancel-scope", "calls:cancel is enough to delete (one write scope)", "AUTH-SCOPE-REFUSED"),
        _f("key-case-insensitive", "API keys are looked up case-insensitively", "AUTH-UNKNOWN-401"),
        _f("key-truncated-to-length", "API keys are compared on their first 40 characters", "AUTH-UNKNOWN-401"),
        _f("authorization-any-scheme", "Authorization: Basic or Token <key> is taken as Bearer", "AUTH-MALFORMED-401"),
        _f("authorization-bare-key", "Authorization: <key> without a scheme is accepted", "AUTH-MALFORMED-401"),
        _f("webhook-token-as-api-key", "a webhook token works as an API key with every scope", "AUTH-UNKNOWN-401"),
        _f(
            "api-key-as-webhook-token", "an API key works as its organisation's webhook token", "HOOK-UNKNOWN-TOKEN-401"
        ),
        _f("webhook-token-prefix", "a webhook path that starts with a token is that token", "HOOK-UNKNOWN-TOKEN-401"),
        _f("webhook-token-stripped", "webhook tokens are stripped of surrounding whitespace", "HOOK-UNKNOWN-TOKEN-401"),
        # issue 13: every method on every call route
        _f("head-before-auth", "HEAD of a call answers 200 or 404 before the key is checked", "AUTH-BEFORE-EXISTENCE"),
        _f("options-before-auth", "OPTIONS of a call answers 204 or 404 without a key", "AUTH-BEFORE-EXISTENCE"),
        _f("head-cross-org", "HEAD finds other organisations' calls", "TENANT-404"),
        _f(
            "trailing-slash-skips-auth",
            "a legacy spelling of the call routes, with a trailing slash, is served without a key",
            "AUTH-MISSING-401",
        ),
        # issue 13: webhook bodies as an attacker writes them
        _f("webhook-action-case-insensitive", "webhook actions match in any case", "HOOK-BAD-BODY-REFUSED"),
        _f("webhook-action-stripped", "webhook actions are stripped of whitespace", "HOOK-BAD-BODY-REFUSED"),
        _f(
            "webhook-org-id-honoured",
            "an org_id, organization_id or data.org_id in a webhook body picks the organisation",
            "TENANT-404",
            "TENANT-UNTOUCHED",
        ),
        _f(
            "query-org-id-honoured",
            "an org_id query parameter picks the organisation (support tooling)",
            "TENANT-404",
            "TENANT-UNTOUCHED",
        ),
        _f(
            "webhook-invalid-create-persists",
            "webhook call.create stores the call before validating it, then answers 400",
            "HOOK-BAD-BODY-REFUSED",
        ),
        # issue 13: seeded data with variety
        _f(
            "null-recording-delete-500",
            "deleting a completed call without a recording crashes (500) after erasing it",
            "DEL-COMPLETED-200",
            "ENV-NO-5XX",
        ),
        _f(
            "null-contact-delete-500",
            "deleting a completed call without a contact name crashes in the audit log (500)",
            "DEL-COMPLETED-200",
            "ENV-NO-5XX",
        ),
        _f(
            "empty-transcript-not-deletable",
            "a completed call with an empty transcript is taken as unfinished: delete answers 404",
            "DEL-COMPLETED-200",
        ),
        _f(
            "zero-duration-not-deletable",
            "a completed call of zero seconds is taken as unfinished: delete answers 404",
            "DEL-COMPLETED-200",
        ),
        _f("long-name-500", "GET of a call whose contact name is over 255 characters crashes (500)", "ENV-NO-5XX"),
        _f(
            "emoji-name-survives-erasure",
            "a contact name with non-BMP characters, kept \\u-escaped in the contact book, survives a delete"
            " and is filled into the next call for that number",
            "DEL-ERASURE",
        ),
        _f(
            "nested-info-survives-erasure",
            "a delete scrubs only the top level of additional_info from the contact book; the next call for"
            " that number gets the nested rest",
            "DEL-ERASURE",
        ),
        # issue 13: erasure everywhere and over time
        _f(
            "stale-read-cache",
            "GETs are cached for 2 s and a delete does not invalidate them",
            "DEL-GONE",
            "DEL-ERASURE",
        ),
        _f(
            "delete-restored-later",
            "a late telephony sync puts a deleted call back 0.3 s after the delete",
            "DEL-GONE",
            "DEL-ERASURE",
        ),
        _f(
            "lagging-replica",
            "GETs come from a replica that applies writes 1.5 s late (the primary while it lacks the call)",
            "DEL-GONE",
            "DEL-ERASURE",
        ),
        _f("id-recycled", "a new call takes the id of the last deleted call", "ID-NEVER-REUSED"),
        _f(
            "idempotency-key-any-org",
            "Idempotency-Keys are kept without their organisation: another's key and body answer its call",
            "ID-NEVER-REUSED",
        ),
        _f(
            "contact-book-autofill",
            "a new call without a name or email is filled in from the last call for that number, deleted or not",
            "DEL-ERASURE",
        ),
        _f(
            "delete-erases-by-number",
            "a delete also wipes the contact of every call, of any organisation, with the same number",
            "TENANT-UNTOUCHED",
        ),
        _f(
            "idempotency-kept-after-delete",
            "an Idempotency-Key replay after the call was deleted answers the deleted call",
            "DEL-ERASURE",
        ),
        # issue 13: concurrency across transports and operations
        _f(
            "cancel-resurrects",
            "cancel saves the call it read back, bringing back a call deleted meanwhile",
            "DEL-CONCURRENT-ONCE",  # contract 5 (1.1): a cancel racing a delete never brings the call back
        ),
        _f(
            "mixed-transport-delete-race",
            "webhook and REST deletes take different locks: one of each both answer 200",
            "DEL-CONCURRENT-ONCE",
        ),
        _f(
            "idempotency-race",
            "concurrent creates with one Idempotency-Key make two calls",
            "CREATE-IDEMPOTENT",
            strict=True,
        ),
        _f(
            "create-org-race",
            "concurrent creates share one request context: a call can land in the other organisation",
            "TENANT-404",
        ),
        # issue 13: exact bodies
        _f("deleted-string-true", 'delete answers "deleted": "true", a string', "DEL-COMPLETED-200"),
        _f("delete-call-id-hex", "delete answers the call_id as 32 hex digits, without dashes", "DEL-COMPLETED-200"),
        _f(
            "cancel-status-canceled",
            'cancel answers status "canceled" (one l)',
            "CANCEL-QUEUED-200",
            "CANCEL-REPEAT-200",
            "SCHEMA-RESPONSES",
        ),
        _f(
            "cancel-success-number",
            'cancel answers "success": 1, a number, not the boolean true',
            "CANCEL-QUEUED-200",
            "CANCEL-REPEAT-200",
        ),
        _f("webhook-cancel-wrapped", 'webhook call.cancel wraps its answer in "data"', "HOOK-EQUIVALENCE"),
        _f("cancel-text-content-type", "cancel answers text/plain", "ENV-JSON", strict=True),
        # issue 13: repeats over time
        _f("repeat-delete-grace-200", "a repeat delete within 2 s of the first answers 200 again", "DEL-REPEAT-404"),
        _f(
            "repeat-delete-after-pause-500",
            "a repeat delete over 0.5 s after the first finds a dangling index entry and crashes (500)",
            "DEL-REPEAT-404",
            "ENV-NO-5XX",
            "DEL-GONE",
        ),
        _f(
            "repeat-cancel-after-pause-409",
            "a repeat cancel answers 200 within 1 s of the first (a response cache), 409 after",
            "CANCEL-REPEAT-200",
        ),
        _f(
            "webhook-repeat-delete-200",
            "webhook call.delete of a deleted call answers 200",
            "DEL-REPEAT-404",
            "HOOK-EQUIVALENCE",
            "DEL-GONE",
        ),
    )
}


def unknown_faults(names: frozenset[str]) -> list[str]:
    return sorted(names - FAULTS.keys())
