"""What a body must look like: the create body (REST and webhook alike), seeds, keys, call ids.

Each validator takes parsed JSON and returns plain values or raises `ApiError` 400 (the caller
turns it into 422 on the webhook). Unknown members of an object are ignored, never copied.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, invalid

CONTACT_NUMBER = re.compile(r"\+91[0-9]{10}")
IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,255}")
# An id outside this alphabet (or longer) cannot be any call's: 400, a choice contract 9 leaves open.
WELL_FORMED_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
STATUSES = ("queued", "initiated", "ringing", "in_progress", "completed", "failed", "cancelled")
SCOPES = ("calls:create", "calls:read", "calls:cancel", "calls:delete")


@dataclass(frozen=True)
class CreateBody:
    agent_id: str
    contact_number: str
    contact_name: str | None
    contact_email: str | None
    additional_info: dict[str, Any]

    def fingerprint(self) -> str:
        """The body as the Idempotency-Key record compares it (member order does not matter)."""
        return json.dumps(self.__dict__, sort_keys=True, ensure_ascii=True)


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid("The request body must be a JSON document.") from None


def json_object(raw: bytes, what: str = "The request body") -> dict[str, Any]:
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise invalid(f"{what} must be a JSON object.")
    return value


def _optional_string(body: dict[str, Any], name: str, *, nullable: bool = False) -> str | None:
    value = body.get(name)
    if value is None and (nullable or name not in body):
        return None
    if not isinstance(value, str):
        raise invalid(f"Field '{name}' must be a string.")
    return value


def create_body(body: Any) -> CreateBody:
    if not isinstance(body, dict):
        raise invalid("The call must be described by a JSON object.")
    agent_id = body.get("agent_id")
    if not isinstance(agent_id, str) or not agent_id:
        raise invalid("Field 'agent_id' is required and must be a non-empty string.")
    number = body.get("contact_number")
    if not isinstance(number, str) or not CONTACT_NUMBER.fullmatch(number):
        raise invalid("Field 'contact_number' is required: '+91' and ten digits.")
    info = body.get("additional_info", {})
    if not isinstance(info, dict):
        raise invalid("Field 'additional_info' must be an object.")
    return CreateBody(
        agent_id, number, _optional_string(body, "contact_name"), _optional_string(body, "contact_email"), info
    )


def idempotency_key(values: list[str]) -> str | None:
    if not values:
        return None
    if len(values) > 1 or not IDEMPOTENCY_KEY.fullmatch(values[0]):
        raise invalid("Idempotency-Key must be one value of 1 to 255 visible ASCII characters.")
    return values[0]


def call_id(value: str) -> str:
    """A path or webhook id that could be some call's, or 400 (auth has already passed)."""
    if not WELL_FORMED_ID.fullmatch(value):
        raise invalid("That is not a call id: ids use letters, digits, '_' and '-' only.")
    return value


def key_request(body: dict[str, Any]) -> tuple[frozenset[str], bool]:
    scopes = body.get("scopes")
    if not isinstance(scopes, list) or any(s not in SCOPES for s in scopes) or len(set(scopes)) != len(scopes):
        raise invalid(f"'scopes' must be a list of distinct scopes among {', '.join(SCOPES)}.")
    revoked = body.get("revoked", False)
    if not isinstance(revoked, bool):
        raise invalid("'revoked' must be a boolean.")
    return frozenset(scopes), revoked


def status(value: Any) -> str:
    if value not in STATUSES:
        raise invalid(f"'status' must be one of {', '.join(STATUSES)}.")
    return str(value)


@dataclass(frozen=True)
class SeedBody:
    org_id: str
    status: str
    fields: dict[str, Any]


def seed_body(body: dict[str, Any]) -> SeedBody:
    org_id = body.get("org_id")
    if not isinstance(org_id, str):
        raise invalid("'org_id' is required.")
    fields: dict[str, Any] = {}
    if "agent_id" in body:
        if not isinstance(body["agent_id"], str) or not body["agent_id"]:
            raise invalid("'agent_id' must be a non-empty string.")
        fields["agent_id"] = body["agent_id"]
    if "contact_number" in body:
        fields["contact_number"] = _optional_string(body, "contact_number")
    for name in ("contact_name", "contact_email", "recording_url"):
        if name in body:
            fields[name] = _optional_string(body, name, nullable=True)
    _seed_extras(body, fields)
    return SeedBody(org_id, status(body.get("status")), fields)


def _seed_extras(body: dict[str, Any], fields: dict[str, Any]) -> None:
    if "additional_info" in body:
        if not isinstance(body["additional_info"], dict):
            raise invalid("'additional_info' must be an object.")
        fields["additional_info"] = body["additional_info"]
    if "transcript" in body:
        transcript = body["transcript"]
        if not isinstance(transcript, list) or not all(_is_line(line) for line in transcript):
            raise invalid("'transcript' must be a list of {speaker, text} strings.")
        fields["transcript"] = [{"speaker": line["speaker"], "text": line["text"]} for line in transcript]
    if "duration_seconds" in body:
        duration = body["duration_seconds"]
        if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
            raise invalid("'duration_seconds' must be a whole number of seconds, 0 or more.")
        fields["duration_seconds"] = duration


def _is_line(line: Any) -> bool:
    return isinstance(line, dict) and isinstance(line.get("speaker"), str) and isinstance(line.get("text"), str)


def reject(error: ApiError, status: int) -> ApiError:
    """The same refusal under another status (the webhook answers bad bodies with 422)."""
    return ApiError(status, error.code, error.message, error.headers)
