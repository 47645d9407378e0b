"""A ready demo, so that a person can curl a freshly started mock at once, or run the suite on it
without the fixtures API: two organisations, the keys and tokens the `HUSKY_*` variables want,
and a call of A in every state."""

from __future__ import annotations

from dataclasses import dataclass

from conformance.mock.store import SCOPES, STATUSES, Store

__all__ = ["Demo", "banner", "seed_demo"]

LIMITED_SCOPES = frozenset({"calls:create", "calls:read"})  # what HUSKY_API_KEY_LIMITED must have, exactly


@dataclass(frozen=True)
class Demo:
    org_id: str
    api_key: str
    limited_key: str  # calls:create and calls:read only
    revoked_key: str
    webhook_token: str
    calls: dict[str, str]  # status -> call_id
    org_id_b: str
    api_key_b: str
    webhook_token_b: str

    def variables(self, url: str) -> dict[str, str]:
        """The `HUSKY_*` variables of a run of the suite against this mock without its fixtures API."""
        return {
            "HUSKY_TARGET_URL": url,
            "HUSKY_API_KEY": self.api_key,
            "HUSKY_API_KEY_LIMITED": self.limited_key,
            "HUSKY_API_KEY_REVOKED": self.revoked_key,
            "HUSKY_API_KEY_B": self.api_key_b,
            "HUSKY_WEBHOOK_TOKEN": self.webhook_token,
            "HUSKY_WEBHOOK_TOKEN_B": self.webhook_token_b,
        }


def seed_demo(store: Store) -> Demo:
    org, org_b = store.add_org(), store.add_org()
    full = store.add_key(org.org_id, frozenset(SCOPES))
    limited = store.add_key(org.org_id, LIMITED_SCOPES)
    revoked = store.add_key(org.org_id, frozenset(SCOPES), revoked=True)
    full_b = store.add_key(org_b.org_id, frozenset(SCOPES))
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
    return Demo(
        org.org_id,
        full.secret,
        limited.secret,
        revoked.secret,
        org.webhook_token,
        calls,
        org_b.org_id,
        full_b.secret,
        org_b.webhook_token,
    )


def banner(url: str, demo: Demo | None, fixtures_token: str | None, generated: bool) -> str:
    lines = [f"HuskyVoice mock listening on {url}"]
    if fixtures_token:
        note = " (generated; pass --fixtures-token to choose it)" if generated else ""
        lines.append(f"fixtures API: {url}/_fixtures  x-fixtures-token: {fixtures_token}{note}")
    if demo is not None:
        lines += [
            f"demo organisation {demo.org_id}",
            f"  API key (all scopes):          {demo.api_key}",
            f"  API key (create and read):     {demo.limited_key}",
            f"  API key (revoked):             {demo.revoked_key}",
            f"  webhook URL:                   {url}/v1/hooks/{demo.webhook_token}",
        ]
        lines += [f"  {status + ' call:':<30} {call_id}" for status, call_id in demo.calls.items()]
        lines += [
            f"second demo organisation {demo.org_id_b}",
            f"  B API key (all scopes):        {demo.api_key_b}",
            f"  B webhook URL:                 {url}/v1/hooks/{demo.webhook_token_b}",
            "the suite without the fixtures API (README, 'Running against staging'), ready to paste:",
            *(f"export {name}={value}" for name, value in demo.variables(url).items()),
        ]
        completed = demo.calls["completed"]
        lines += [
            "try:",
            f"  curl -s {url}/v1/calls/{completed} -H 'Authorization: Bearer {demo.api_key}'",
            f"  curl -s -X DELETE {url}/v1/calls/{completed} -H 'x-api-key: {demo.api_key}'",
        ]
    return "\n".join(lines)
