"""The one exception every layer of the second target raises for a 4xx or a 429, and its codes."""

from __future__ import annotations

UNAUTHORIZED = "UNAUTHORIZED"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
VALIDATION_ERROR = "VALIDATION_ERROR"
CALL_NOT_CANCELLABLE = "CALL_NOT_CANCELLABLE"
IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
INTERNAL_ERROR = "INTERNAL_ERROR"


class ApiError(Exception):
    """An answer with the error envelope: status, code, message and any extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def not_found(message: str = "There is no such call in your organization.") -> ApiError:
    return ApiError(404, NOT_FOUND, message)


def invalid(message: str, status: int = 400) -> ApiError:
    return ApiError(status, VALIDATION_ERROR, message)
