"""A second, independent target: correct on every MUST of contract 1.1.0, different on every choice.

Written from `../shared/contract.md` (and the shapes of `specs/*.yaml`) alone, without reading the
bundled mock, on another stack (the standard library's `http.server`, one thread a connection, one
lock around the state). The suite must pass it: a failure it reports here is either a bug of this
target or a false failure of the suite (issue 13, "Prove it yourselves").

Start it from a test (`with SecondTarget(TargetConfig(fixtures_token=t)) as target: target.url`)
or by hand (`python -m second_target --port 8081 --fixtures-token T`, from `tests/`).

Its choices, each one the contract leaves open (section in brackets), and how the mock differs:

1. Call ids are sequential with a prefix, `c_1001`, `c_1002`, ... from one counter that never goes
   back (not even on a fixtures reset), so no id is answered twice [3]. The mock uses UUIDs.
2. Extra members in bodies [1, 1.1]: every call has `"object": "call"` and `"livemode": false`;
   the cancel and delete answers and the webhook create answer carry `"object": "call"`; every
   public answer has a top-level `request_id`, and every error one beside `code` and `message`
   (different on every response, so two answers to the same request differ in it); the fixtures'
   organisation has `"object": "organization"`.
3. `Content-Type: application/json; charset=utf-8`, non-ASCII characters sent as UTF-8, except
   that, as Go's encoder does, `<`, `>`, `&`, U+2028 and U+2029 are sent as `\\u003c`-style escapes,
   and characters beyond the BMP (emoji) as UTF-16 surrogate pairs (`\\ud83d\\ude00`) [1, 1.1].
   The mock sends every character as UTF-8.
4. gzip whenever the request's `Accept-Encoding` accepts it (httpx always does), and an answer
   over 2 KiB in `Transfer-Encoding: chunked` [1, 1.1].
5. Extra headers: `X-Request-Id`, `Cache-Control: no-store`, `Vary`, `WWW-Authenticate` on 401,
   `Idempotent-Replayed: true` on a replay, `Allow` on OPTIONS [1, 1.1].
6. A valid key without the operation's scope gets **401** `UNAUTHORIZED`, not 403 [2, 9: SHOULD 403].
7. Bad webhook bodies (non-JSON, unknown action, missing or mistyped `call_id`, an invalid
   `call.create` body) get **422** `VALIDATION_ERROR`, not 400 [6, 9: SHOULD 400].
8. A cancel past `queued` gets **422** `CALL_NOT_CANCELLABLE`, not 409, on both transports
   [5, 9: SHOULD 409].
9. A call id that cannot be any call's (a character outside `[A-Za-z0-9_-]`, empty, or over 100
   characters) gets **400** `VALIDATION_ERROR` after auth, on REST and in webhook `data.call_id`
   alike; a well-formed unknown id gets 404 [3, 9: SHOULD 404].
10. Webhook `call.create` answers **201**, not 200 [6, 9: the status is open].
11. `Authorization` takes the scheme spelt exactly `Bearer`: `bearer` is a malformed credential
    (401) [2: SHOULD accept `bearer`].
12. An `Idempotency-Key` replay (same organisation, key and body) answers 201 with the call **as
    it is now** (e.g. `cancelled`), not the first answer; once that call is deleted the key answers
    409 `IDEMPOTENCY_CONFLICT` (the deleted call is never brought back). "Same body" is judged on
    what the target reads from it: members it ignores (unknown ones) do not count [5, 9].
13. Other messages everywhere; each kind of auth failure (missing, malformed, unknown, revoked,
    two keys, missing scope) has its own message, the same whatever the call.
14. Timestamps with microseconds and a `+00:00` offset (RFC 3339).
15. OPTIONS on a route answers 204 with `Allow` once the credential is valid, whatever the id
    (a 204 has no body). A wrong method on a known route (`PUT /v1/calls/X`, `GET .../cancel`, `GET`
    on the webhook) gets **404** `NOT_FOUND` after auth, without `Allow`, as a router that matches
    method and path together does; the mock answers 405 before auth [1: SHOULD 405; 2 (1.1)].
16. Under `/v1` the key comes before the route: an unknown path (`/v1/nope`, a segment too many as
    in `/v1/calls/X/` or `/v1/calls/X/cancel/Y`) gets 401 without a valid key, then 404; the mock
    answers 404 before auth. Outside `/v1` (no API there) 404 at once [1, 2].
17. Bodies up to 1 MiB (413 `PAYLOAD_TOO_LARGE` above); a fixtures status move to the same status is
    a no-op 200, a backward one 400 [8].
18. An invalid create body (not JSON, not an object, a field missing or mistyped) gets **422**
    `VALIDATION_ERROR`, not 400, as over the webhook [5: the suite's SHOULD 400].
"""

from __future__ import annotations

from .app import App, TargetConfig
from .server import SecondTarget

__all__ = ["App", "SecondTarget", "TargetConfig"]
