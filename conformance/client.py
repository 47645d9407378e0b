"""The suite's HTTP client: every request becomes an `Exchange`, never an exception.

Paths are sent exactly as given (already percent-encoded), under the target's base path, so
adversarial ids reach the server byte for byte. Transport errors (refused, reset, timed out)
become an Exchange with `status=None`; a 429 is waited out per `Retry-After` and retried, and
counted. Observers see every exchange: that is how response-wide rules are checked.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from .redaction import Secrets

__all__ = ["Client", "Exchange", "check_reachable"]

MAX_RETRY_AFTER = 60.0
MAX_THROTTLE_RETRIES = 5


@dataclass(frozen=True)
class Exchange:
    """One request and what came back (`status` None: no HTTP answer, see `error`)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    status: int | None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    error: str | None = None

    def json(self) -> Any:
        """The response's JSON value, or None when the body is not JSON."""
        try:
            return json.loads(self.response_body)
        except ValueError:
            return None

    def body_shape(self) -> Any:
        """The structure of the JSON body, keys and types but not values (None: not JSON)."""
        return _shape(self.json())

    @property
    def error_code(self) -> str | None:
        body = self.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = body["error"].get("code")
            return code if isinstance(code, str) else None
        return None

    @property
    def error_message(self) -> str | None:
        body = self.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = body["error"].get("message")
            return message if isinstance(message, str) else None
        return None

    def outcome(self) -> str:
        """What came back, in a few words: `404 NOT_FOUND`, `200`, `no answer: timed out`."""
        if self.status is None:
            return f"no answer: {self.error}"
        return f"{self.status} {self.error_code}" if self.error_code else str(self.status)

    def curl(self, secrets: Secrets) -> str:
        """This request as a curl command, every secret redacted (see `Secrets`)."""
        words = ["curl", "-sS", "-X", self.method, secrets.render(secrets.mark_url(self.url), shell=True)]
        for name, value in self.headers.items():
            words += ["-H", secrets.render(f"{name}: {secrets.mark_header(name, value)}", shell=True)]
        if self.body is not None:
            body = secrets.mark_text(self.body.decode("utf-8", "replace"))
            words += ["--data-binary", secrets.render(body, shell=True)]
        return " ".join(words)


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


class Client:
    def __init__(self, base_url: str, *, timeout: float, secrets: Secrets) -> None:
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        self._base = httpx.URL(base_url.rstrip("/"))
        self.secrets = secrets
        self.observers: list[Callable[[Exchange], None]] = []
        self.requests = 0
        self.throttled = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> httpx.URL:
        return self._base.copy_with(raw_path=self._base.raw_path.rstrip(b"/") + path.encode("ascii"))

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
    ) -> Exchange:
        """Send `method path` (path already encoded); waits out 429s; never raises for the target."""
        headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        for _ in range(MAX_THROTTLE_RETRIES + 1):
            exchange = self._send(method, path, headers, content)
            if exchange.status != 429:
                break
            with self._lock:
                self.throttled += 1
            time.sleep(_retry_after(exchange))
        return exchange

    def _send(self, method: str, path: str, headers: dict[str, str], content: bytes | None) -> Exchange:
        url = self.url(path)
        with self._lock:
            self.requests += 1
        try:
            response = self._http.request(method, url, headers=headers, content=content)
            exchange = Exchange(
                method,
                str(url),
                headers,
                content,
                response.status_code,
                dict(response.headers),
                response.content,
            )
        except httpx.LocalProtocolError:
            raise  # the suite built a request HTTP cannot carry: its own bug, not the target's
        except httpx.TimeoutException:
            exchange = Exchange(method, str(url), headers, content, None, error="timed out")
        except httpx.HTTPError as exc:
            exchange = Exchange(method, str(url), headers, content, None, error=type(exc).__name__)
        self._notify(exchange)
        return exchange

    def observe_external(self, exchange: Exchange, *, throttled: bool = False) -> None:
        """Count a request another HTTP stack sent for the run (schemathesis), and show it around."""
        with self._lock:
            self.requests += 1
            self.throttled += throttled
        self._notify(exchange)

    def _notify(self, exchange: Exchange) -> None:
        for observe in self.observers:
            observe(exchange)


def _retry_after(exchange: Exchange) -> float:
    value = exchange.response_headers.get("retry-after", "1")
    return min(float(value), MAX_RETRY_AFTER) if value.isdigit() else 1.0


def check_reachable(url: str, timeout: float) -> None:
    """UsageError unless `url` answers HTTP at all (any status will do)."""
    from .errors import UsageError

    try:
        httpx.get(f"{url}/v1/calls/reachability-probe", timeout=timeout)
    except httpx.HTTPError as exc:
        raise UsageError(
            f"cannot reach the target {url} ({type(exc).__name__}); check --target-url and that it is up"
        ) from None
