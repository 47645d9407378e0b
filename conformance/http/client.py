"""The suite's HTTP client: every request becomes an `Exchange`, never an exception.

Paths are sent exactly as given (already percent-encoded), under the target's base path, so
adversarial ids reach the server byte for byte. Transport errors (refused, reset, timed out: the
whole exchange within `--timeout`) and an answer past `limits.MAX_ANSWER_BYTES` become an Exchange
with `status=None`; a redirect is never followed; a 429 is waited out per `Retry-After` and
retried, and counted (`conformance.http.throttle`). Observers see every exchange: that is how
response-wide rules are checked.

Before anything is sent, the client asks its gate (`conformance.target.safety`) whether the request may
go at all, keeps the run within its request budget, and paces (`--rate-limit`). A request whose
answer was lost is never sent again: the `on_lost` hook reads its outcome back with a GET.

The budget keeps the clean-up's share: a request is admitted only if, after it, the budget still
holds what the clean-up needs for every call so far (`reserved`), and what this request and those
still in flight may leave to do (`reserve_for`: the clean-up of a call a create may make, the
read-back of a cancel whose answer is lost). So the clean-up, which may use that share (`cleanup`),
never finds the budget spent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import httpx

from conformance.errors import BudgetSpent
from conformance.http.history import History
from conformance.http.limits import AnswerTooLarge, Pools, http_client, is_over_cap, read_answer
from conformance.http.redaction import Secrets
from conformance.http.throttle import until_served, wait_for

__all__ = ["Client", "Exchange", "Hooks", "Pacer", "check_reachable", "probe"]

MAX_URLS = 4096  # URLs the client keeps built


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
    read_back: Exchange | None = None  # no answer: what a GET of the same call said right after
    started: float = field(default=0.0, compare=False)  # when it went (time.monotonic); 0.0: not known

    def __repr__(self) -> str:
        # Tracebacks and hypothesis print it: no headers or bodies (keys, tokens), no webhook token.
        return f"Exchange({self.method} {Secrets().redact(self.url)} -> {self.outcome()})"

    def json(self) -> Any:
        """The response's JSON value, or None when the body is not JSON (parsed once: do not mutate it)."""
        return self._json

    @cached_property
    def _json(self) -> Any:
        # Every observer and check of an exchange reads its body: parsed once, not once each.
        return _parsed(self.response_body)

    def sent_json(self) -> Any:
        """The request body's JSON value, or None when it is not JSON (parsed once: do not mutate it)."""
        return self._sent_json

    @cached_property
    def _sent_json(self) -> Any:
        return _parsed(self.body or b"")

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
            known = f" (read back with GET: {self.read_back.outcome()})" if self.read_back is not None else ""
            return f"no answer: {self.error}{known}"
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


def _parsed(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


class Pacer:
    """At most `per_minute` requests a minute, evenly spaced, shared by every thread of the run."""

    def __init__(self, per_minute: float | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Until `interval` after the previous request went: held while it sleeps, so threads queue."""
        if not self.interval:
            return
        with self._lock:
            pause = self._next - time.monotonic()
            if pause > 0:
                self._sleep(pause)
            self._next = time.monotonic() + self.interval


Gate = Callable[[str, str, bytes | None, bool], None]  # method, path, body, cleanup


def _let_through(method: str, path: str, body: bytes | None, cleanup: bool) -> None:
    return None


def _nothing_read_back(client: Client, lost: Exchange) -> Exchange | None:
    return None


def _nothing_reserved() -> int:
    return 0


def _nothing_kept(method: str, path: str, body: bytes | None) -> int:
    return 0


@dataclass(frozen=True)
class Hooks:
    """What the run plugs into its client, given at construction (`conformance.target.environment.Parts`)."""

    gate: Gate = _let_through  # raises to refuse a request (method, path, body, cleanup)
    on_lost: Callable[[Client, Exchange], Exchange | None] = _nothing_read_back  # reads back a lost answer
    reserved: Callable[[], int] = _nothing_reserved  # requests kept back for the clean-up of the calls so far
    # Requests kept back for what one request (method, path, body) may leave to do (see `Client.request`).
    reserve_for: Callable[[str, str, bytes | None], int] = _nothing_kept


class Client:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        secrets: Secrets,
        rate_limit: float | None = None,
        max_requests: int = 0,
        sleep: Callable[[float], None] = time.sleep,
        hooks: Hooks = Hooks(),
    ) -> None:
        self._pools = Pools(timeout)
        self.timeout = timeout
        self._base = httpx.URL(base_url.rstrip("/"))
        self._urls: dict[str, httpx.URL] = {}  # path -> its URL (`url`)
        self.secrets = secrets
        self.observers: list[Callable[[Exchange], None]] = []
        self.history = History()  # the requests of the check running now (`History.start`)
        self.pacer = Pacer(rate_limit, sleep)
        self.sleep = sleep
        self.max_requests = max_requests  # 0: no budget
        self.hooks = hooks
        self.overdrawn = 0  # requests sent past the budget where `when_spent` allowed it: the budget grew by them
        self._in_flight = 0  # kept back for the requests sent and not yet answered (`reserve_for`)
        self.requests = 0
        self.throttled = 0
        self.cleaning = False  # the run's clean-up: every request may use what the budget kept back
        self.when_spent: Callable[[], None] = self._spent  # raises, unless this request may overdraw
        self._lock = threading.Lock()
        self._race = threading.local()  # `race`: when the race this thread's requests belong to began

    def close(self) -> None:
        self._pools.close()

    def url(self, path: str) -> httpx.URL:
        # Building a URL parses it (tens of microseconds): the same paths come back all run long.
        found = self._urls.get(path)
        if found is None:
            if len(self._urls) >= MAX_URLS:
                self._urls.clear()
            found = self._urls[path] = self._base.copy_with(
                raw_path=self._base.raw_path.rstrip(b"/") + path.encode("ascii")
            )
        return found

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        cleanup: bool = False,
    ) -> Exchange:
        """Send `method path` (path already encoded); waits out 429s; never raises for the target.

        Raises `NotExercised` when the gate refuses the request and `BudgetSpent` when the budget
        is used up; `cleanup` requests may use what the budget keeps back for them.
        """
        headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        cleanup = cleanup or self.cleaning
        self.hooks.gate(method, path, content, cleanup)
        keep = 0 if cleanup else self.hooks.reserve_for(method, path, content)

        def attempt() -> Exchange:
            self._admit(1, cleanup, keep, hold=True)
            try:
                started = time.monotonic()
                exchange = replace(self._send(method, path, headers, content), started=self._began(started))
                ended = time.monotonic()
                if exchange.status is None:  # never sent again: what happened is read back instead
                    exchange = replace(exchange, read_back=self.hooks.on_lost(self, exchange))
                self._notify(exchange, started, ended)  # the ledger holds what it created from here on
            finally:
                with self._lock:
                    self._in_flight -= keep
            return exchange

        answer = until_served(attempt, _wait, self.sleep, self._count_throttled)
        assert answer is not None  # every attempt answers an Exchange
        return answer

    def _count_throttled(self, exchange: Exchange) -> None:
        with self._lock:
            self.throttled += 1

    def reserved(self) -> int:
        """The requests the budget keeps back for the clean-up of the calls so far."""
        return self.hooks.reserved()

    def admit(self, count: int = 1, *, cleanup: bool = False, keep: int = 0) -> None:
        """Count `count` requests about to go into the budget, then pace.

        Unless they are the clean-up's, the budget must still hold after them the clean-up's share
        and `keep` more (what they may leave to do, see `reserve_for`); else `when_spent` (`BudgetSpent`).
        """
        self._admit(count, cleanup, keep, hold=False)

    def _admit(self, count: int, cleanup: bool, keep: int, *, hold: bool) -> None:
        with self._lock:  # checked and counted at once: concurrent creates cannot share one reservation
            need = self.requests + count + (0 if cleanup else self.reserved() + self._in_flight + keep)
            if self.max_requests and need > self.max_requests + self.overdrawn:
                self.when_spent()
                self.overdrawn = need - self.max_requests  # allowed past the budget: the clean-up's share stays
            self.requests += count
            self._in_flight += keep if hold else 0
        self.pacer.wait()

    @contextmanager
    def overdraft(self) -> Iterator[None]:
        """Requests inside are never refused for the budget: past it, the budget grows by them (see
        `overdrawn`), so what it keeps back for the clean-up stays kept."""
        saved, self.when_spent = self.when_spent, lambda: None
        try:
            yield
        finally:
            self.when_spent = saved

    def _spent(self) -> None:
        raise BudgetSpent(f"the run's budget of {self.max_requests} requests is spent")

    def _send(self, method: str, path: str, headers: dict[str, str], content: bytes | None) -> Exchange:
        url = self.url(path)
        try:
            http = self._pools.pick(racing=getattr(self._race, "began", None) is not None)
            request = http.build_request(method, url, headers=headers, content=content)
            response, body = read_answer(http, request, self.timeout)
        except httpx.LocalProtocolError:
            raise  # the suite built a request HTTP cannot carry: its own bug, not the target's
        except httpx.TimeoutException:
            return Exchange(method, str(url), headers, content, None, error="timed out")
        except (httpx.HTTPError, AnswerTooLarge) as exc:  # a truncated answer is not judged: no answer
            error = str(exc) if isinstance(exc, AnswerTooLarge) else type(exc).__name__
            return Exchange(method, str(url), headers, content, None, error=error)
        exchange = Exchange(method, str(url), headers, content, response.status_code, dict(response.headers), body)
        if body and "json" in exchange.response_headers.get("content-type", "") and exchange.json() is None:
            # Cut short by a wrong Content-Length? Its rest, left on the connection, would be read as the
            # start of the next answer there (a fixtures request's, then blamed on the options).
            self._pools.renew()
        return exchange

    def observe_external(self, exchange: Exchange, *, throttled: bool = False, admitted: bool = True) -> None:
        """Show a request another HTTP stack sent for the run (schemathesis) around.

        Not `admitted` (schemathesis' own auth probes): it is counted, and paced, after the fact. Its
        sender kept room for it when it admitted the request it follows (see `SchemaLayer`); if it
        still went past the budget, the budget grows by it, so the clean-up's share stays whole.
        """
        with self._lock:
            self.throttled += throttled
            self.requests += not admitted
        if not admitted:
            self.pacer.wait()
        now = time.monotonic()  # schemathesis sends one request at a time: when it is shown will do
        self._notify(exchange, now, now)
        if not admitted and self.max_requests:
            with self._lock:
                need = self.requests + self.reserved() + self._in_flight
                self.overdrawn = max(self.overdrawn, need - self.max_requests)

    def _began(self, sent: float) -> float:
        """When a request sent at `sent` counts as sent: when its race began, if it belongs to one."""
        return getattr(self._race, "began", None) or sent

    @contextmanager
    def race(self, began: float) -> Iterator[None]:
        """This thread's requests belong to a race that began at `began`: each exchange says it went
        then (`Exchange.started`), so that none counts as sent after another of the race was answered,
        whatever order the threads (or a replay) give them."""
        self._race.began = began
        try:
            yield
        finally:
            self._race.began = None

    def _notify(self, exchange: Exchange, started: float, ended: float) -> None:
        """Into the check's history (`started` and `ended`: when it was on the wire), then to every observer."""
        self.history.add(exchange, started, ended)
        for observe in self.observers:
            observe(exchange)


def _wait(exchange: Exchange) -> float | None:
    return wait_for(exchange.status, exchange.response_headers.get("retry-after"))


PROBE = "/v1/calls/reachability-probe"


def _unreachable(url: str, error: str) -> Exception:
    from conformance.errors import UsageError

    return UsageError(f"cannot reach the target {url} ({error}); check --target-url and that it is up")


def check_reachable(url: str, timeout: float) -> None:
    """UsageError unless `url` answers HTTP at all within `timeout` (any status and size will do)."""
    with http_client(timeout) as http:
        try:
            read_answer(http, http.build_request("GET", f"{url}{PROBE}"), timeout)
        except AnswerTooLarge:
            pass  # an answer all the same
        except httpx.HTTPError as exc:
            raise _unreachable(url, type(exc).__name__) from None


def probe(client: Client) -> None:
    """The same through `client`: paced and counted like every request of the run."""
    exchange = client.request("GET", PROBE)
    if exchange.status is None and not is_over_cap(exchange.error):
        raise _unreachable(str(client.url("")), exchange.error or "no answer")
