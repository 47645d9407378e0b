"""A ready demo organisation, so that a person can curl a freshly started mock at once."""

from __future__ import annotations

from dataclasses import dataclass

from .store import SCOPES, STATUSES, Store

__all__ = ["Demo", "banner", "seed_demo"]


@dataclass(frozen=True)
class Demo:
    org_id: str
    api_key: str
    limited_key: str  # every scope but calls:delete
    webhook_token: str
    calls: dict[str, str]  # status -> call_id


def seed_demo(store: Store) -> Demo:
    org = store.add_org()
    full = store.add_key(org.org_id, frozenset(SCOPES))
    limited = store.add_key(org.org_id, frozenset(SCOPES) - {"calls:delete"})
    calls = {}
    for n, status in enumerate(STATUSES, start=1):
        call = store.add_call(
            org.org_id,
            status,
            agent_id="agent_demo",
            contact_number=f"+9198765432{n:02d}",
            contact_name=f"Demo Contact {n}",
            contact_email=f"contact{n}@example.com",
            additional_info={"purpose": "demo"},
            transcript=[{"speaker": "agent", "text": f"Hello Demo Contact {n}."}],
            recording_url=f"https://recordings.example.com/demo-{n}.mp3",
            duration_seconds=30 + n,
        )
        calls[status] = call.call_id
    return Demo(org.org_id, full.secret, limited.secret, org.webhook_token, calls)


def banner(url: str, demo: Demo | None, fixtures_token: str | None, generated: bool) -> str:
    lines = [f"HuskyVoice mock listening on {url}"]
    if fixtures_token:
        note = " (generated; pass --fixtures-token to choose it)" if generated else ""
        lines.append(f"fixtures API: {url}/_fixtures  x-fixtures-token: {fixtures_token}{note}")
    if demo is not None:
        lines += [
            f"demo organisation {demo.org_id}",
            f"  API key (all scopes):          {demo.api_key}",
            f"  API key (no calls:delete):     {demo.limited_key}",
            f"  webhook URL:                   {url}/v1/hooks/{demo.webhook_token}",
        ]
        lines += [f"  {status + ' call:':<30} {call_id}" for status, call_id in demo.calls.items()]
        completed = demo.calls["completed"]
        lines += [
            "try:",
            f"  curl -s {url}/v1/calls/{completed} -H 'Authorization: Bearer {demo.api_key}'",
            f"  curl -s -X DELETE {url}/v1/calls/{completed} -H 'x-api-key: {demo.api_key}'",
        ]
    return "\n".join(lines)
