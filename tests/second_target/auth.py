"""Who is calling: API keys (two headers), webhook tokens, the fixtures token, and the rate limit.

Credentials match exactly: the value sent is looked up as it is, never trimmed or folded. The
`Authorization` scheme must be spelt `Bearer` exactly (this target's choice: the contract's
SHOULD accepts `bearer` too). A missing scope is a 401 (contract 2 allows 401 or 403).
"""

from __future__ import annotations

import collections
import hmac
import math
import threading
import time
from email.message import Message

from .errors import RATE_LIMIT_EXCEEDED, UNAUTHORIZED, ApiError
from .store import Key, Store

_SCHEME = "Bearer "


def _refuse(message: str) -> ApiError:
    return ApiError(401, UNAUTHORIZED, message, {"WWW-Authenticate": 'Bearer realm="calls"'})


def _sent_keys(headers: Message) -> list[str]:
    authorizations = headers.get_all("Authorization") or []
    api_keys = headers.get_all("x-api-key") or []
    if not authorizations and not api_keys:
        raise _refuse("Authentication required: send your API key as a Bearer token or in x-api-key.")
    if len(authorizations) > 1 or len(api_keys) > 1:
        raise _refuse("Send one API key, once.")
    keys = list(api_keys)
    for value in authorizations:
        if not value.startswith(_SCHEME) or not value[len(_SCHEME) :] or value[len(_SCHEME) :] != value.split()[-1]:
            raise _refuse("The Authorization header must read 'Bearer <api key>'.")
        keys.append(value[len(_SCHEME) :])
    if len(set(keys)) > 1:
        raise _refuse("Authorization and x-api-key name different keys.")
    return keys


def api_key(store: Store, headers: Message, scope: str | None) -> tuple[str, Key]:
    """The key sent and its record, or 401; with `scope`, the key must hold it (else 401 too)."""
    secret = _sent_keys(headers)[0]
    key = store.key(secret)
    if key is None:
        raise _refuse("This API key is not valid.")
    if key.revoked:
        raise _refuse("This API key has been revoked.")
    if scope is not None and scope not in key.scopes:
        raise _refuse(f"This API key does not grant the {scope} scope.")
    return secret, key


def webhook_org(store: Store, token: str) -> str:
    org_id = store.org_of_token(token)
    if org_id is None:
        raise _refuse("This webhook URL is not valid.")
    return org_id


def fixtures_allowed(expected: str, headers: Message) -> None:
    sent = headers.get_all("x-fixtures-token") or []
    if len(sent) != 1 or not hmac.compare_digest(sent[0].encode(), expected.encode()):
        raise ApiError(401, UNAUTHORIZED, "The fixtures API needs its token in x-fixtures-token.")


class RateLimiter:
    """At most `per_minute` requests per credential in any sliding 60 s window (None: no limit)."""

    def __init__(self, per_minute: int | None) -> None:
        self._limit = per_minute
        self._lock = threading.Lock()
        self._seen: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    def hit(self, credential: str) -> None:
        if self._limit is None:
            return
        now = time.monotonic()
        with self._lock:
            window = self._seen[credential]
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self._limit:
                wait = max(1, math.ceil(window[0] + 60 - now))
                raise ApiError(429, RATE_LIMIT_EXCEEDED, "Too many requests for this key.", {"Retry-After": str(wait)})
            window.append(now)
