"""Drift: a cassette set re-sent to a live target, and where its answers differ from the recording's.

Every recorded request goes out again in run order (`_open`, the checks in index order,
`_cleanup`) through the suite's client. Placeholders become the live secrets: the fixtures token
and the `HUSKY_*` credentials come from the config. Every other value the server chose (call
ids, organisation ids, the keys and tokens the fixtures API made) is learned by walking the
recorded and the live JSON answers side by side: an id-like string at the same place that
differs maps recorded -> live in every later request (percent-encoded in paths). `[REDACTED]`
values cannot be restored and are sent as they are.

Each interaction is judged by status, error code and body shape (keys and types, not values).
A run of identical requests in a row is compared as a whole, in any order: the order they were
recorded in was the server's. The checks that race requests of different kinds against each other
(`RACED`: a cancel against a delete, REST against the webhook, creates of two organisations) are
re-sent but not judged: one by one, their answers depend on the order of sending, not on the target.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from conformance.cassettes.cassette_set import (
    CREDENTIAL_NAMES,
    PLACEHOLDER,
    Index,
    load_interactions,
    placeholder_secrets,
    read_index,
)
from conformance.config import SuiteConfig
from conformance.errors import UsageError
from conformance.http.client import Client, Exchange
from conformance.http.redaction import Secrets

__all__ = ["Answer", "Difference", "Recorded", "Substitutions", "compare", "read", "run"]

# Headers the client sets itself; the rest (credentials, content type, idempotency key) are re-sent.
CLIENT_HEADERS = frozenset({"host", "content-length", "connection", "accept", "accept-encoding", "user-agent"})
ID_SUFFIXES = ("id", "token", "key")  # call_id, org_id, api_key, webhook_token
REDACTED = "[REDACTED]"
TABLE_PATH = 56


@dataclass(frozen=True)
class Answer:
    """What judges an interaction: status, error code, body shape."""

    status: int | None
    code: str | None
    shape: Any

    @classmethod
    def of(cls, exchange: Exchange) -> Answer:
        return cls(exchange.status, exchange.error_code, exchange.body_shape())

    def text(self) -> str:
        if self.status is None:
            return "no answer"
        return f"{self.status} {self.code}" if self.code else str(self.status)

    def key(self) -> tuple[Any, ...]:
        return self.status, self.code, json.dumps(self.shape, sort_keys=True)


@dataclass(frozen=True)
class Recorded:
    """One recorded interaction, ready to be sent again."""

    cassette: str
    index: int
    method: str
    path: str  # as recorded (scrubbed), relative to the target
    headers: dict[str, str]
    body: bytes | None
    answer: Exchange  # the recorded answer, as an exchange

    def same_request(self, other: Recorded) -> bool:
        return self.request() == other.request()

    def request(self) -> tuple[Any, ...]:
        return self.method, self.path, self.headers, self.body


@dataclass(frozen=True)
class Difference:
    cassette: str
    index: int
    method: str
    path: str
    recorded: Answer
    live: Answer

    @property
    def differs(self) -> list[str]:
        pairs = [("status", self.recorded.status, self.live.status), ("code", self.recorded.code, self.live.code)]
        found = [name for name, was, now in pairs if was != now]
        return found + (["shape"] if self.recorded.shape != self.live.shape else [])


# --- reading the recording -----------------------------------------------------------------------


def read(directory: Path) -> Index:
    return read_index(directory)


def _relative(uri: str, target: str) -> str:
    if uri.startswith(target):
        return uri[len(target) :]
    parts = urlsplit(uri)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def recorded(directory: Path, index: Index) -> Iterator[Recorded]:
    """Every interaction of the set, in run order."""
    for file in index.files():
        for number, (request, response) in enumerate(load_interactions(directory / file)):
            body = request.body or None
            headers = {k: v for k, v in request.headers.items() if k.lower() not in CLIENT_HEADERS}
            answer = Exchange(
                request.method,
                request.uri,
                headers,
                body,
                response["status"]["code"],
                {k.lower(): v[0] for k, v in response["headers"].items() if v},
                bytes(response["body"]["string"] or b""),
            )
            path = _relative(request.uri, index.target)
            yield Recorded(file.removesuffix(".yaml"), number, request.method, path, headers, body, answer)


# --- substituting live values ----------------------------------------------------------------------


class Substitutions:
    """Recorded value -> live value, applied to every request sent after it was learned."""

    def __init__(self, initial: dict[str, str], secrets: Secrets) -> None:
        self.values = dict(initial)
        self.secrets = secrets

    def learn(self, recorded: Any, live: Any, key: str = "") -> None:
        """Walk a recorded and a live JSON answer side by side; id-like strings that differ are learned."""
        if isinstance(recorded, dict) and isinstance(live, dict):
            for name in recorded.keys() & live.keys():
                self.learn(recorded[name], live[name], name)
        elif isinstance(recorded, list) and isinstance(live, list):
            for was, now in zip(recorded, live, strict=False):
                self.learn(was, now, key)
        elif isinstance(recorded, str) and isinstance(live, str) and recorded != live and _learnable(key, recorded):
            self.values.setdefault(recorded, live)
            if (placeholder := PLACEHOLDER.fullmatch(recorded)) is not None:
                self.secrets.add(live, placeholder.group(1))

    def _apply(self, text: str, encode: bool) -> str:
        if not self.values:
            return text
        table = {old: quote(new, safe="") if encode else new for old, new in self.values.items()}
        if encode:
            table |= {quote(old, safe=""): quote(new, safe="") for old, new in self.values.items()}
        pattern = re.compile("|".join(re.escape(old) for old in sorted(table, key=len, reverse=True)))
        return pattern.sub(lambda m: table[m.group(0)], text)

    def path(self, path: str) -> str:
        return self._apply(path, encode=True)

    def text(self, text: str) -> str:
        return self._apply(text, encode=False)

    def body(self, body: bytes | None) -> bytes | None:
        if body is None:
            return None
        return self.text(body.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")


def _learnable(key: str, value: str) -> bool:
    """Server-chosen values only: a placeholder, or an id, key or token (a status must never be "learned")."""
    if value == REDACTED:
        return False
    return bool(PLACEHOLDER.fullmatch(value)) or key.lower().endswith(ID_SUFFIXES)


def _initial(index: Index, config: SuiteConfig, secrets: Secrets) -> dict[str, str]:
    """The placeholders the live secrets replace; UsageError for one the recording had and this run lacks."""
    wanted = {"HUSKY_FIXTURES_TOKEN": config.fixtures_token} if index.fixtures_token else {}
    by_name = {name: getattr(config.credentials, field) for field, name in CREDENTIAL_NAMES.items()}
    wanted |= {name: by_name[name] for name in index.credentials if not index.fixtures_token}
    missing = [name for name, value in wanted.items() if not value]
    if missing:
        flag = " (--fixtures-token)" if missing[0] == "HUSKY_FIXTURES_TOKEN" else ""
        raise UsageError(f"the recording used {', '.join(missing)}: set it{flag} for the live target")
    for name, value in wanted.items():
        secrets.add(value, name)
    return {"${" + name + "}": str(value) for name, value in wanted.items()}


# --- sending and comparing -------------------------------------------------------------------------


def _groups(interactions: list[Recorded]) -> Iterator[list[Recorded]]:
    """Runs of the same request in a row, within one cassette."""
    group: list[Recorded] = []
    for item in interactions:
        if group and not (item.cassette == group[0].cassette and item.same_request(group[0])):
            yield group
            group = []
        group.append(item)
    if group:
        yield group


def _send(client: Client, subs: Substitutions, item: Recorded) -> Exchange:
    headers = {name: subs.text(value) for name, value in item.headers.items()}
    return client.request(item.method, subs.path(item.path), headers=headers, content=subs.body(item.body))


def _judge(group: list[Recorded], live: list[Exchange]) -> list[Difference]:
    was, now = [Answer.of(item.answer) for item in group], [Answer.of(e) for e in live]
    if sorted(a.key() for a in was) == sorted(a.key() for a in now):
        return []
    return [
        Difference(item.cassette, item.index, item.method, item.path, w, n)
        for item, w, n in zip(group, was, now, strict=True)
        if w != n
    ]


RACED = ("concurrent_delete", "concurrent_creates")  # checks whose requests race each other


def compare(interactions: list[Recorded], client: Client, subs: Substitutions) -> list[Difference]:
    differences: list[Difference] = []
    for group in _groups(interactions):
        live = [_send(client, subs, item) for item in group]
        for item, exchange in zip(group, live, strict=True):
            subs.learn(item.answer.json(), exchange.json())
        differences += [] if group[0].cassette in RACED else _judge(group, live)
    return differences


# --- the output --------------------------------------------------------------------------------------


def _row(d: Difference, secrets: Secrets) -> dict[str, Any]:
    row: dict[str, Any] = secrets_free(asdict(d) | {"differs": d.differs}, secrets)
    return row


def secrets_free(value: Any, secrets: Secrets) -> Any:
    if isinstance(value, dict):
        return {k: secrets_free(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [secrets_free(v, secrets) for v in value]
    return secrets.redact(value) if isinstance(value, str) else value


def _table(differences: list[Difference], secrets: Secrets) -> list[str]:
    lines = [f"  {'cassette':<24} {'#':>4}  {'method':<6}  {'path':<{TABLE_PATH}}  {'recorded':<16}  live"]
    for d in differences:
        path = secrets.redact(d.path)
        path = path if len(path) <= TABLE_PATH else path[: TABLE_PATH - 1] + "…"
        live = secrets.redact(d.live.text()) + (" (body shape differs)" if "shape" in d.differs else "")
        lines.append(
            f"  {d.cassette:<24} {d.index:>4}  {d.method:<6}  {path:<{TABLE_PATH}}  {d.recorded.text():<16}  {live}"
        )
    return lines


def _markdown(data: dict[str, Any]) -> str:
    lines = [
        f"# Drift: **{data['differing']} of {data['interactions']} interactions differ**",
        "",
        f"Cassettes `{data['cassettes']}` (recorded against `{data['recorded_target']}`, seed {data['seed']})"
        f" re-sent to `{data['target']}`.",
    ]
    if data["differences"]:
        lines += ["", "| cassette | # | method | path | recorded | live | differs |", "|---|---|---|---|---|---|---|"]
        for d in data["differences"]:
            was, now = d["recorded"], d["live"]
            cells = [d["cassette"], d["index"], d["method"], f"`{d['path']}`", _cell(was), _cell(now)]
            lines.append("| " + " | ".join(map(str, cells)) + f" | {', '.join(d['differs'])} |")
    return "\n".join(lines) + "\n"


def _cell(answer: dict[str, Any]) -> str:
    return " ".join(str(v) for v in (answer["status"], answer["code"]) if v is not None) or "no answer"


def run(directory: Path, index: Index, config: SuiteConfig) -> int:
    """Re-send the set to `config.target_url`; print and write what differs. 0: nothing, 1: something."""
    assert config.target_url is not None
    secrets = placeholder_secrets(directory, index)  # the recording's own placeholders stay as they are
    subs = Substitutions(_initial(index, config, secrets), secrets)
    interactions = list(recorded(directory, index))
    client = Client(config.target_url, timeout=config.timeout, secrets=secrets, rate_limit=config.rate_limit)
    try:
        differences = compare(interactions, client, subs)
    finally:
        client.close()
    data = {
        "cassettes": str(directory),
        "recorded_target": index.target,
        "seed": index.seed,
        "target": secrets.redact(config.target_url),
        "interactions": len(interactions),
        "differing": len(differences),
        "differences": [_row(d, secrets) for d in differences],
    }
    report_dir = config.report_dir
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "drift.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (report_dir / "drift.md").write_text(_markdown(data), encoding="utf-8")
    print(f"drift: {directory} (recorded against {index.target}, seed {index.seed}) re-sent to {data['target']}")
    if differences:
        print("\n".join(_table(differences, secrets)))
    print(
        f"drift: {len(differences)} of {len(interactions)} interactions differ"
        f" · reports in {report_dir}/drift.json, drift.md"
    )
    return 1 if differences else 0
