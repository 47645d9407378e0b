"""A hostile loopback target: the bundled mock behind a proxy that misbehaves as live targets do.

`with HostileTarget("sequential") as target:` serves, under a real uvicorn on a free 127.0.0.1
port, a fresh mock wrapped in one misbehaviour (the mode):

- `sequential`: call ids are `call_<n>`, numbered in order by one counter, as many real APIs do.
  The proxy maps them both ways (answers' bodies; request paths `/v1/calls/{id}...` and
  `/_fixtures/calls/{id}/status`; the webhook's `data.call_id`). Before the run the target holds
  `foreign` calls nobody told the suite about, in every state, in organisation A (whose keys `env`
  hands to the suite: `call_1` to `call_99` and half the rest) and in one of their own; each call the suite
  creates is followed by a foreign one in the same organisation, so the suite's ids are
  surrounded by other people's (a truncation or an extension of an own id names someone else's).
- `duplicate_create`: a create (REST 201, webhook `call.create`) answers an id already answered:
  the first create's (`repeat="first"`) or a foreign call's of the same organisation
  (`repeat="foreign"`), which existed before.
- `redirect`: 307 (or `redirect_status`) to another loopback URL, which notes who follows it.
- `drip`: 200, then one byte every `drip_seconds`, forever; `endless`: a chunked body that never ends.
- `oversize`: a 1 GiB body, generated as it is sent; `gzip_bomb`: a 1 MB gzip body of 1 GiB of zeros.
- `fixtures_malformed`: the fixtures API's answers become a list, `null`, an empty body or an
  object of the wrong types (`malformed`).

The stream and answer modes misbehave only on the requests `hostile_on` names (see `ROUTES`) and
at most `limit` times, so a run can otherwise go on. In every mode the proxy records each cancel
and delete it receives (REST and webhook), decoded as the target would read it, and which of them
named a call the suite did not create; and every secret it handed out (`secrets`).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import re
import secrets
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.types import Message, Receive, Scope, Send
from suite_runs import AppServer

from conformance.mock import MockConfig, create_app
from conformance.mock.store import SCOPES, STATUSES, Call, Store

__all__ = ["MODES", "ROUTES", "Destructive", "HostileTarget"]

MODES = (
    "sequential",
    "duplicate_create",
    "redirect",
    "drip",
    "endless",
    "oversize",
    "gzip_bomb",
    "fixtures_malformed",
)
GIB = 1 << 30
CHUNK = 1 << 20
MAX_STREAM_SECONDS = 300.0  # a stream nobody hangs up on still ends (the test has failed long before)
FOLLOWED = "/_hostile/followed"  # where a redirect points: a request here means the suite followed it
LIMITED = ("calls:create", "calls:read")
MALFORMED: dict[str, bytes] = {
    "list": b'[{"org_id": "org_x", "webhook_token": "whk_x", "api_key": "sk_x"}]',
    "null": b"null",
    "empty": b"",
    "wrong_types": b'{"org_id": 7, "webhook_token": ["w"], "api_key": {"k": 1}, "data": "call"}',
}
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_CALL_PATH = re.compile(r"^(/v1/calls/|/_fixtures/calls/)([^/]+)(.*)$", re.S)
_REST_DESTRUCTIVE = re.compile(r"^/v1/calls/([^/]*)(/cancel)?/?$")
_HOOK = re.compile(r"^/v1/hooks/[^/]*/?$")
# What a sequential id's truncations and in-alphabet extensions look like: `call_` and its
# prefixes, and `call_` with up to 12 digits (an own id with 64 random bits in digits is longer).
_SEQUENTIAL_FORM = re.compile(r"call_[0-9]{1,12}")


@dataclass(frozen=True)
class Destructive:
    """A cancel or a delete the target received, with the id decoded as the target reads it."""

    method: str
    path: str  # as received (percent-encoded; the webhook's token is in it)
    via: str  # "rest" or "webhook"
    action: str  # "cancel" or "delete"
    call_id: str
    foreign: bool  # it named a call the target held that the suite did not create
    unowned: bool  # sequential: of the target's id form (or a truncation of it) and not the suite's
    answered: int  # how many creates had answered this id to the suite before this request

    def __str__(self) -> str:
        if self.via == "webhook":  # no secret in a test's output
            return f"POST /v1/hooks/<token> call.{self.action} -> {self.call_id!r}"
        return f"{self.method} {self.path[:60]} -> {self.call_id!r}"


def destructive_id(method: str, raw_path: str, body: bytes) -> tuple[str, str, str] | None:
    """(via "rest" or "webhook", "cancel" or "delete", the decoded call id) of a cancel or a delete, else None.

    The tests' own reading, independent of the suite's: a REST cancel or delete by path (a
    trailing slash too), a webhook `call.cancel` or `call.delete` by its JSON body.
    """
    rest = _REST_DESTRUCTIVE.match(raw_path)
    if rest is not None and ((method == "DELETE" and not rest[2]) or (method == "POST" and rest[2])):
        return "rest", "cancel" if rest[2] else "delete", unquote(rest[1], errors="surrogateescape")
    if method != "POST" or not _HOOK.match(raw_path):
        return None
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    if not (isinstance(data, dict) and data.get("action") in ("call.cancel", "call.delete")):
        return None
    inner = data.get("data")
    call_id = inner.get("call_id") if isinstance(inner, dict) else None
    return ("webhook", data["action"][5:], call_id) if isinstance(call_id, str) else None


@functools.cache
def gzip_bomb() -> bytes:
    """1 GiB of zeros, gzipped (about 1 MB; seconds to make, so made once per process)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9, zlib.Z_RLE)
    zeros = bytes(CHUNK)
    return b"".join([*(packer.compress(zeros) for _ in range(GIB // CHUNK)), packer.flush()])


class HostileTarget:
    """The mock behind a misbehaving proxy, on a free loopback port; see the module docstring.

    Attributes a test reads: `url`, `fixtures_token`, `env` (HUSKY_* credentials of organisations
    A and B), `secrets` (name -> every secret handed out), `destructive` (every cancel and delete
    received) and its filters `foreign_destructive`, `unowned_destructive`, `repeated_destructive`,
    `foreign_before` / `foreign_now()` (the foreign calls' states), `suite_ids`, `foreign_ids`,
    `answered` (id -> creates that answered it), `hostile` (the requests answered with the
    misbehaviour) and `followed` (requests that followed a redirect).
    """

    def __init__(
        self,
        mode: str = "sequential",
        *,
        hostile_on: str = "call_reads",
        limit: int | None = None,
        foreign: int = 300,
        repeat: str = "first",
        redirect_status: int = 307,
        drip_seconds: float = 1.0,
        malformed: str = "list",
    ) -> None:
        if (
            mode not in MODES
            or hostile_on not in ROUTES
            or repeat not in ("first", "foreign")
            or malformed not in MALFORMED
        ):
            raise ValueError(f"no such hostile target: {mode}, {hostile_on}, {repeat}, {malformed}")
        self.mode, self.hostile_on, self.limit = mode, hostile_on, limit
        self.repeat, self.malformed = repeat, malformed
        self.redirect_status, self.drip_seconds = redirect_status, drip_seconds
        self.fixtures_token = "fixtures-hostile-" + secrets.token_urlsafe(16)
        self.store = Store()
        self.mock = create_app(MockConfig(fixtures_token=self.fixtures_token), self.store)
        self.server = AppServer(self)
        self.secrets: dict[str, str] = {"fixtures token": self.fixtures_token}
        self.destructive: list[Destructive] = []
        self.hostile: list[str] = []
        self.followed: list[str] = []
        self.suite_ids: set[str] = set()
        self.foreign_ids: set[str] = set()
        self.foreign_before: dict[str, tuple[str, str]] = {}  # public id -> (status, updated_at)
        self.answered: Counter[str] = Counter()  # public id -> how many creates answered it to the suite
        self._public: dict[str, str] = {}  # the mock's id -> the id the suite sees (sequential)
        self._private: dict[str, str] = {}
        self._first: str | None = None  # duplicate_create "first": the first create's id
        self._foreign_of_org: dict[str, str] = {}  # duplicate_create "foreign": an old call per organisation
        if mode == "gzip_bomb":
            gzip_bomb()
        self.env = self._organisations(foreign if mode == "sequential" else 2)  # others need only a few

    # -- the handle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> HostileTarget:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    # -- what happened -----------------------------------------------------------------------------

    @property
    def foreign_destructive(self) -> list[Destructive]:
        return [d for d in self.destructive if d.foreign]

    @property
    def unowned_destructive(self) -> list[Destructive]:
        return [d for d in self.destructive if d.unowned]

    @property
    def repeated_destructive(self) -> list[Destructive]:
        """Cancels and deletes of an id after two creates had answered it to the suite."""
        return [d for d in self.destructive if d.answered >= 2]

    def foreign_now(self) -> dict[str, tuple[str, str] | None]:
        """Each foreign call's (status, updated_at) now; None: it is gone."""
        with self.store.lock:
            calls = {public: self.store.calls.get(self._private.get(public, public)) for public in self.foreign_before}
        return {public: (c.status, c.updated_at) if c else None for public, c in calls.items()}

    # -- the target's own data ----------------------------------------------------------------------

    def _organisations(self, foreign: int) -> dict[str, str]:
        """Organisations A and B (the env route's), one of foreign calls only, and `foreign` calls."""
        a, b, other = self.store.add_org(), self.store.add_org(), self.store.add_org()
        env = {
            "HUSKY_API_KEY": self.store.add_key(a.org_id, frozenset(SCOPES)).secret,
            "HUSKY_API_KEY_LIMITED": self.store.add_key(a.org_id, frozenset(LIMITED)).secret,
            "HUSKY_API_KEY_REVOKED": self.store.add_key(a.org_id, frozenset(SCOPES), revoked=True).secret,
            "HUSKY_API_KEY_B": self.store.add_key(b.org_id, frozenset(SCOPES)).secret,
            "HUSKY_WEBHOOK_TOKEN": a.webhook_token,
            "HUSKY_WEBHOOK_TOKEN_B": b.webhook_token,
        }
        self.secrets |= env
        for n in range(1, foreign + 1):  # call_1 to call_99, every short truncation, are A's
            self._add_foreign(a.org_id if n < 100 or n % 2 else other.org_id, STATUSES[n % len(STATUSES)])
        for org in (a, b):
            self._foreign_of_org[org.org_id] = self._add_foreign(org.org_id, "completed").call_id
        return env

    def _add_foreign(self, org_id: str, status: str) -> Call:
        call = self.store.add_call(
            org_id, status, agent_id="agent_foreign", contact_number="+919111111111", contact_name="Foreign Person"
        )
        public = self._number(call.call_id)
        self.foreign_ids.add(public)
        self.foreign_before[public] = (call.status, call.updated_at)
        return call

    def _number(self, private: str) -> str:
        """The id the suite sees for the mock's `private` (sequential: the next `call_<n>`)."""
        if self.mode != "sequential":
            return private
        if private not in self._public:
            public = f"call_{len(self._public) + 1}"
            self._public[private], self._private[public] = public, private
        return self._public[private]

    # -- ASGI ---------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.mock(scope, receive, send)
        method, raw = scope["method"], scope["raw_path"].decode("latin-1")
        body = await _read_body(receive)
        if raw == FOLLOWED:
            self.followed.append(f"{method} {raw}")
            return await _answer(send, 404, b"")
        self._note_destructive(method, raw, body)
        private = self._private_path(raw)
        if self.mode not in ("sequential", "duplicate_create", "fixtures_malformed") and self._hostile_now(
            method, raw, private
        ):
            return await self._misbehave(receive, send)
        if private != raw:
            scope = dict(scope, raw_path=private.encode("latin-1"), path=unquote(private))
        status, headers, answer = await _forward(self.mock, scope, self._private_body(raw, body))
        answer = self._rewrite(method, raw, body, status, answer)
        if self.mode == "fixtures_malformed" and self._hostile_now(method, raw, private):
            answer = MALFORMED[self.malformed]
        await _answer(send, status, answer, headers)

    def _hostile_now(self, method: str, raw: str, private: str) -> bool:
        if not ROUTES[self.hostile_on](self, method, private):
            return False
        if self.limit is not None and len(self.hostile) >= self.limit:
            return False
        self.hostile.append(f"{method} {raw}")
        return True

    def _note_destructive(self, method: str, raw: str, body: bytes) -> None:
        found = destructive_id(method, raw, body)
        if found is None:
            return
        via, action, call_id = found
        unowned = self.mode == "sequential" and call_id not in self.suite_ids and _sequential_form(call_id)
        self.destructive.append(
            Destructive(method, raw, via, action, call_id, call_id in self.foreign_ids, unowned, self.answered[call_id])
        )

    # -- rewriting (sequential, duplicate_create) --------------------------------------------------

    def _private_path(self, raw: str) -> str:
        found = _CALL_PATH.match(raw)
        if self.mode != "sequential" or found is None:
            return raw
        private = self._private.get(unquote(found[2], errors="surrogateescape"))
        return raw if private is None else found[1] + private + found[3]

    def _private_body(self, raw: str, body: bytes) -> bytes:
        if self.mode != "sequential" or not _HOOK.match(raw):
            return body
        try:
            data = json.loads(body)
        except ValueError:
            return body
        inner = data.get("data") if isinstance(data, dict) else None
        call_id = inner.get("call_id") if isinstance(inner, dict) else None
        if not isinstance(call_id, str) or call_id not in self._private:
            return body
        inner["call_id"] = self._private[call_id]
        return json.dumps(data).encode()

    def _rewrite(self, method: str, raw: str, body: bytes, status: int, answer: bytes) -> bytes:
        self._note_secrets(raw, status, answer)
        created = _created_id(method, raw, body, status, answer)
        if created is not None:
            answer = self._on_create(raw, created, answer)
        if self.mode == "sequential":
            answer = _UUID.sub(self._public_of, answer)
        return answer

    def _public_of(self, found: re.Match[bytes]) -> bytes:
        private = found[0].decode()
        if private in self._public or private in self.store.calls:
            return self._number(private).encode()
        return found[0]

    def _on_create(self, raw: str, private: str, answer: bytes) -> bytes:
        """Note a create's id (sequential: follow it with a foreign call); duplicate_create: repeat one."""
        org_id = self.store.calls[private].org_id if private in self.store.calls else None
        is_new = self.mode != "sequential" or private not in self._public
        public = self._number(private)
        if self.mode == "duplicate_create" and not raw.startswith("/_fixtures/"):
            repeated = self._repeated(private, org_id)
            answer, public = answer.replace(private.encode(), repeated.encode()), repeated
        self.answered[public] += 1
        if is_new and public not in self.foreign_ids:
            self.suite_ids.add(public)
        if self.mode == "sequential" and is_new and org_id is not None:
            self._add_foreign(org_id, "queued")
        return answer

    def _repeated(self, private: str, org_id: str | None) -> str:
        if self.repeat == "first":
            self._first = self._first or private
            return self._first
        if org_id not in self._foreign_of_org and org_id is not None:
            self._foreign_of_org[org_id] = self._add_foreign(org_id, "completed").call_id
        return self._foreign_of_org.get(org_id or "", private)

    def _note_secrets(self, raw: str, status: int, answer: bytes) -> None:
        if not raw.startswith("/_fixtures/orgs") or status != 201:
            return
        try:
            data = json.loads(answer)
        except ValueError:
            return
        for name in ("api_key", "webhook_token"):
            if isinstance(data, dict) and isinstance(data.get(name), str):
                self.secrets[f"{name} {len(self.secrets)}"] = data[name]
        if self.mode == "duplicate_create" and self.repeat == "foreign" and isinstance(data.get("org_id"), str):
            org_id = data["org_id"]  # its old call exists before any create of the run can be answered
            self._foreign_of_org[org_id] = self._add_foreign(org_id, "completed").call_id

    # -- misbehaviours ------------------------------------------------------------------------------

    async def _misbehave(self, receive: Receive, send: Send) -> None:
        if self.mode == "redirect":
            location = (f"{self.url}{FOLLOWED}").encode()
            return await _answer(send, self.redirect_status, b"", [(b"location", location)])
        if self.mode == "gzip_bomb":
            bomb = gzip_bomb()
            head = [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
            head.append((b"content-length", str(len(bomb)).encode()))
            chunks = (bomb[i : i + CHUNK] for i in range(0, len(bomb), CHUNK))
            return await _stream(receive, send, head, chunks, 0)
        if self.mode == "oversize":
            head = [(b"content-type", b"application/json"), (b"content-length", str(GIB).encode())]
            filler = b" " * CHUNK
            return await _stream(receive, send, head, (filler for _ in range(GIB // CHUNK)), 0)
        forever = itertools.repeat(b" " if self.mode == "drip" else b" " * CHUNK)
        pause = self.drip_seconds if self.mode == "drip" else 0
        await _stream(receive, send, [(b"content-type", b"application/json")], forever, pause)


# -- which requests misbehave -----------------------------------------------------------------------


def _reads_a_call(target: HostileTarget, method: str, path: str) -> bool:
    """A GET of a call that exists (so the suite's reachability probe, of an id that does not, is answered)."""
    found = _CALL_PATH.match(path)
    return (
        method == "GET"
        and path.startswith("/v1/calls/")
        and found is not None
        and not found[3]
        and (unquote(found[2]) in target.store.calls)
    )


ROUTES: dict[str, Callable[[HostileTarget, str, str], bool]] = {
    "everything": lambda target, method, path: True,
    "call_reads": _reads_a_call,
    "fixtures_api": lambda target, method, path: path.startswith("/_fixtures/"),
    "fixtures_keys": lambda target, method, path: path.startswith("/_fixtures/orgs/") and path.endswith("/keys"),
}


# -- ASGI plumbing -----------------------------------------------------------------------------------


def _sequential_form(call_id: str) -> bool:
    return bool(call_id) and ("call_".startswith(call_id) or _SEQUENTIAL_FORM.fullmatch(call_id) is not None)


def _created_id(method: str, raw: str, body: bytes, status: int, answer: bytes) -> str | None:
    """The id (the mock's) a create answered: REST 201, webhook call.create, a fixtures-seeded call."""
    rest_or_seed = method == "POST" and status == 201 and raw in ("/v1/calls", "/_fixtures/calls")
    hook = method == "POST" and status == 200 and _HOOK.match(raw) is not None and b"call.create" in body
    if not (rest_or_seed or hook):
        return None
    try:
        data = json.loads(answer)
    except ValueError:
        return None
    if hook:
        return data.get("call_id") if isinstance(data, dict) else None
    inner = data.get("data") if isinstance(data, dict) else None
    return inner.get("call_id") if isinstance(inner, dict) else None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _forward(app: Any, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The mock's whole answer to `scope` with `body`: status, headers, body."""
    given = False
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal given
        if given:
            return {"type": "http.disconnect"}
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, receive, send)
    except Exception:
        if not start:
            raise  # the mock answered nothing: let uvicorn answer 500
    return start["status"], list(start.get("headers", [])), b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    kept = [(k, v) for k, v in headers or [] if k.lower() != b"content-length"]
    kept.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": body})


async def _stream(receive: Receive, send: Send, headers: list[tuple[bytes, bytes]], chunks: Any, pause: float) -> None:
    """A 200 whose body is `chunks`, one every `pause` seconds, until they end or the client hangs up."""
    hung_up = asyncio.ensure_future(receive())  # the body was read: what comes next is the disconnect
    deadline = time.monotonic() + MAX_STREAM_SECONDS
    try:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in chunks:
            if hung_up.done() or time.monotonic() > deadline:
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(pause)  # 0 too: other requests go on meanwhile
        await send({"type": "http.response.body", "body": b""})
    finally:
        hung_up.cancel()
