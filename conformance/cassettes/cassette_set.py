"""A cassette set on disk: VCR.py cassettes of one run of the targeted properties, and its index.

`DIR/_open.yaml` holds the suite's own set-up traffic (reachability probe, provisioning), one
`DIR/<check>.yaml` per check, `DIR/_cleanup.yaml` the clean-up, and `DIR/index.json` how the run
was made (seed, budget, target, which credentials) and which cassettes judge each requirement.

Nothing secret is ever written. Before a cassette is saved every interaction is scrubbed with
the run's `Secrets`: credential headers and webhook tokens in paths become `${NAME}` (or
`[REDACTED]` when unknown), and so does every known key or token anywhere in a URL, header or
body; the fixtures API's `api_key`, `webhook_token` and `fixtures_token` members are replaced
structurally as a safety net. A replay runs with those placeholders as its secrets, so what it
sends scrubs to exactly what was recorded.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.errors import UsageError
from conformance.http.redaction import SENSITIVE_HEADERS, Secrets

__all__ = [
    "CREDENTIAL_NAMES",
    "INDEX",
    "MATCH_ON",
    "Index",
    "Scrubber",
    "is_cassette_file",
    "load_interactions",
    "placeholder_secrets",
    "read_index",
    "refuse_foreign",
    "replay_environment",
    "same_request",
    "write_index",
]

INDEX = "index.json"
FORMAT = 1
OPEN, CLEANUP = "_open", "_cleanup"  # the suite's own traffic, before and after the checks
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
FIXTURES_SECRETS = frozenset({"api_key", "webhook_token", "fixtures_token"})
DROPPED_RESPONSE_HEADERS = frozenset({"date"})  # changes every recording and judges nothing
# One matcher (`same_request`): VCR.py runs every matcher on every recorded request, each body
# comparison with a diff, which made a replay slower than the recording.
MATCH_ON = ("husky",)
_CREDENTIAL_HEADERS = tuple(sorted(SENSITIVE_HEADERS))
# `Credentials` field -> the variable it comes from (`Credentials.from_env`).
CREDENTIAL_NAMES = {
    "api_key": "HUSKY_API_KEY",
    "api_key_limited": "HUSKY_API_KEY_LIMITED",
    "api_key_revoked": "HUSKY_API_KEY_REVOKED",
    "api_key_b": "HUSKY_API_KEY_B",
    "webhook_token": "HUSKY_WEBHOOK_TOKEN",
    "webhook_token_b": "HUSKY_WEBHOOK_TOKEN_B",
}


# --- the index ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    """How a cassette set was recorded, and what is in it."""

    suite_version: str
    contract_version: str
    target: str  # redacted; a replay sends (offline) to exactly this
    seed: int
    budget: str  # as `--budget` takes it
    strict: bool
    fixtures_token: bool  # whether the recording had one (its value is never written)
    credentials: list[str]  # the HUSKY_* variables that were set (names only)
    checks: list[str]  # in run order
    cassettes: dict[str, int]  # file -> interactions, in run order
    requirements: dict[str, list[str]]  # requirement id -> the cassettes that judge it
    options: dict[str, Any] = field(default_factory=dict)  # other run options that shape the requests

    def files(self) -> list[str]:
        return list(self.cassettes)


def _index_path(directory: Path) -> Path:
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such directory; record a cassette set with 'husky-conformance record'")
    path = directory / INDEX
    if not path.is_file():
        raise UsageError(f"{directory} is not a cassette set (no {INDEX}); record one with 'husky-conformance record'")
    return path


def read_index(directory: Path) -> Index:
    path = _index_path(directory)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.pop("format", None) != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        return Index(**data)
    except (ValueError, TypeError) as error:
        raise UsageError(f"{path} is not a cassette index this suite reads ({error}); record again") from None


def write_index(directory: Path, index: Index) -> None:
    text = json.dumps({"format": FORMAT, **asdict(index)}, indent=2, ensure_ascii=False)
    (directory / INDEX).write_text(text + "\n", encoding="utf-8")


def run_environment(options: Any) -> Mapping[str, str]:
    """The environment a run's config is built from: a replay's placeholders, else the process's own."""
    if getattr(options, "replay", False) and getattr(options, "cassettes", None):
        return replay_environment(read_index(Path(options.cassettes)))
    return os.environ


def replay_environment(index: Index) -> dict[str, str]:
    """The HUSKY_* variables of a replay: every secret the recording had, as its own placeholder."""
    names = (["HUSKY_FIXTURES_TOKEN"] if index.fixtures_token else []) + index.credentials
    return {name: "${" + name + "}" for name in names}


def placeholder_secrets(directory: Path, index: Index) -> Secrets:
    """A store that knows every `${NAME}` the cassettes hold, as itself (how a replay scrubs)."""
    store = Secrets()
    for file in index.files():
        path = directory / file
        for name in PLACEHOLDER.findall(path.read_text(encoding="utf-8")) if path.is_file() else ():
            store.add("${" + name + "}", name)
    return store


def is_cassette_file(path: Path) -> bool:
    """Whether a recording may replace `path`: an index, or a cassette VCR.py wrote (a crashed run leaves those)."""
    if path.name in (INDEX, ".gitkeep"):
        return True
    if path.suffix != ".yaml" or not path.is_file():
        return False
    with path.open(encoding="utf-8", errors="replace") as file:
        return file.read(len("interactions:")) == "interactions:"


def refuse_foreign(directory: Path) -> None:
    """UsageError unless a recording may (re)write `directory`: new, empty, or a cassette set."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--cassettes {directory} is a file: name a directory")
    found = [p.name for p in directory.iterdir() if not is_cassette_file(p)] if directory.is_dir() else []
    if found:
        raise UsageError(f"{directory} holds {found[0]}, which no cassette set has: record into a new directory")


def load_interactions(path: Path) -> list[tuple[Any, dict[str, Any]]]:
    """The (vcr Request, response dict) pairs of one cassette, as VCR.py reads them."""
    from vcr.serialize import deserialize
    from vcr.serializers import yamlserializer

    requests, responses, *_ = deserialize(path.read_text(encoding="utf-8"), yamlserializer)
    return list(zip(requests, responses, strict=True))


# --- scrubbing ---------------------------------------------------------------------------------


def _text(body: Any) -> str | None:
    if body is None or isinstance(body, str):
        return body
    return bytes(body).decode("utf-8", "surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class Scrubber:
    """Scrubs requests and responses with a `Secrets` store.

    `secrets` is None until the run's store exists (the set-up cassette opens before it): an
    interaction saved then is dropped rather than written unscrubbed.
    """

    def __init__(self, secrets: Secrets | None = None) -> None:
        self.secrets = secrets

    def _store(self) -> Secrets:
        if self.secrets is None:
            raise LookupError("no secrets store yet")
        return self.secrets

    def url(self, url: str) -> str:
        return Secrets.render(self._store().mark_url(url))

    def header(self, name: str, value: str) -> str:
        return Secrets.render(self._store().mark_header(name, value))

    def text(self, text: str) -> str:
        return Secrets.render(self._store().mark_text(text))

    def request(self, request: Any) -> Any:
        """A scrubbed copy of a vcr `Request` (VCR.py's `before_record_request`)."""
        request = copy.deepcopy(request)
        request.uri = self.url(request.uri)
        request.headers = {name: self.header(name, value) for name, value in request.headers.items()}
        body = _text(request.body)
        if body:
            request.body = _bytes(self.text(body))
        return request

    def response(self, response: dict[str, Any], *, fixtures: bool) -> dict[str, Any]:
        response = copy.deepcopy(response)
        response["headers"] = {
            name: [self.header(name, value) for value in values]
            for name, values in response.get("headers", {}).items()
            if name.lower() not in DROPPED_RESPONSE_HEADERS
        }
        body = _text(response.get("body", {}).get("string"))
        encoding = {n.lower(): v for n, v in response["headers"].items()}.get("content-encoding", ["identity"])
        if body and encoding != ["identity"]:  # VCR.py could not decompress it: it cannot be scrubbed either
            response["body"]["string"] = _bytes(f"[REDACTED: a body in content-encoding {encoding[0]}]")
        elif body:
            body = self.text(body)
            response["body"]["string"] = _bytes(_fixtures_net(body) if fixtures else body)
        return response

    def interaction(self, request: Any, response: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
        """VCR.py's `before_save_interaction`: both halves scrubbed, or dropped if that cannot be done."""
        if self.secrets is None:
            return None
        return self.request(request), self.response(response, fixtures="/_fixtures/" in request.uri)


def _fixtures_net(body: str) -> str:
    """A fixtures API answer with every key and token member a placeholder or `[REDACTED]`."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    found = list(_secret_members(data))
    for holder, key in found:
        holder[key] = "[REDACTED]"
    return json.dumps(data) if found else body


def _secret_members(value: Any) -> Iterator[tuple[dict[str, Any], str]]:
    if isinstance(value, list):
        for item in value:
            yield from _secret_members(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in FIXTURES_SECRETS and not (isinstance(item, str) and PLACEHOLDER.fullmatch(item)):
                yield value, key
            else:
                yield from _secret_members(item)


def _credentials(request: Any) -> tuple[str | None, ...]:
    return tuple(request.headers.get(name) for name in _CREDENTIAL_HEADERS)  # case-insensitive


def _body(request: Any) -> bytes:
    body = request.body
    return body.encode() if isinstance(body, str) else bytes(body or b"")


def same_request(r1: Any, r2: Any) -> None:
    """VCR.py matcher: the same method, the same URI byte for byte (scheme, host, port, path, query),
    the same (scrubbed) key and token headers, so that another key never matches, and the same body."""
    for what, value in (("method", lambda r: r.method), ("uri", lambda r: r.uri), ("credentials", _credentials)):
        if value(r1) != value(r2):
            raise AssertionError(f"{what} differs")
    if _body(r1) != _body(r2):
        raise AssertionError("body differs")
