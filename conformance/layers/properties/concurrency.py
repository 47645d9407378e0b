"""Contract section 5: "concurrent deletes of one completed call: exactly one 200"; and, 1.1, over either
transport or both mixed, with cancels and reads racing the delete, and creates racing each other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from conformance.contract.model import Op
from conformance.http.client import Exchange
from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.layers.properties._common import Sample
from conformance.target import calls
from conformance.target.environment import Tenant

STAGGER = 0.02  # seconds between one wave of a staggered race being sent and the next (`_at_once`)
# The races of `concurrent_delete` (`_race`): REST deletes, mixed, mixed with cancels at once or staggered.
ROUNDS = ("rest", "mixed", "mixed, cancels at once", "mixed, staggered")


def _at_once(ctx: Context, sends: Sequence[tuple[int, Callable[[], Exchange]]]) -> list[Exchange]:
    """Every send, each from a thread of its own, released together in waves: wave 0 at once, each
    later wave `STAGGER` after the one before it was sent (not after a fixed time: a loaded machine
    oversleeps). Their exchanges are tagged concurrent (`conformance.layers.dimensions`), and each
    went when the race began (`Client.race`): a read racing a delete may show the call."""
    start = threading.Barrier(len(sends))
    sent = [threading.Event() for _ in range(1 + max(wave for wave, _ in sends))]
    began = time.monotonic()

    def send(i: int) -> Exchange:
        wave, request = sends[i]
        start.wait()
        if wave:
            sent[wave - 1].wait()
            time.sleep(STAGGER)
        sent[wave].set()
        with ctx.coverage.tagged(concurrency="concurrent"), ctx.client.race(began):
            return request()

    with ThreadPoolExecutor(max_workers=len(sends)) as pool:
        return list(pool.map(send, range(len(sends))))


def _op(ctx: Context, transport: str, op: Op, call_id: str) -> Callable[[], Exchange]:
    a = ctx.env.a
    token = a.webhook_token or ""
    return lambda: calls.call_op(ctx.client, transport, op, call_id, headers=a.auth(), token=token)


def _race(ctx: Context, race: str, call_id: str, sampled: bool) -> list[tuple[int, Callable[[], Exchange]]]:
    """The deletes of one race (first), then its cancels and reads, each with its wave (`_at_once`).
    Staggered: the cancels one wave after another (they read the call first), a GET in each of their
    waves and in the first deletes', then the webhook's deletes, then REST's together in the next
    wave (a handler that reads, waits and writes leaves a window that the later wave falls into,
    whatever the time its transport takes to reach the call; and deletes sent together meet in a
    handler's window however loaded the machine is). Sampled: one cancel, over the webhook where
    there is one, and one GET, in the wave before the deletes."""
    n, hook = ctx.config.budget.concurrency, ctx.env.a.webhook_token is not None
    transports = ["webhook" if race != "rest" and hook and i % 2 else "rest" for i in range(n)]
    cancels = ["rest", "webhook"][: 1 + hook] if race not in ("rest", "mixed") else []
    cancels = cancels[-1:] if sampled else cancels
    waves = race.endswith("staggered")
    racers = [(k if waves else 0, _op(ctx, t, "cancel", call_id)) for k, t in enumerate(cancels)]
    first = len(cancels) if waves else 0  # the wave of the first deletes
    reads = [max(0, first - 1)] if sampled else sorted({*range(first), first})  # reads just before them
    racers += [(w, _op(ctx, "rest", "get", call_id)) for w in reads] if cancels else []
    deletes: list[tuple[int, Callable[[], Exchange]]] = []
    wave = len(cancels) - 1 if waves else 0
    previous = None
    for transport in sorted(transports, key=lambda t: t == "rest"):  # the webhook's first
        wave += int(waves and transport != previous)  # a wave for the webhook's deletes, one for REST's
        deletes.append((wave, _op(ctx, transport, "delete", call_id)))
        previous = transport
    return deletes + racers


@check("concurrent_delete", "DEL-CONCURRENT-ONCE", "DEL-GONE")
def concurrent_delete(ctx: Context) -> None:
    """N deletes of one completed call at once, over REST, over both transports mixed, and mixed with
    cancels (over both transports) and a GET racing them, at once or staggered (cancels and the GET
    first, then the webhook's deletes, then REST's): exactly one 200, every other delete 404, and
    nothing brings the call back. Sampled: the staggered race, with one cancel."""
    ctx.env.need_state("completed")
    a, n = ctx.env.a, ctx.config.budget.concurrency
    every = Sample(ctx, "concurrent_delete").every
    for race in ROUNDS if every else ROUNDS[-1:]:
        call_id = ctx.env.seed_call(a, "completed")
        answers = _at_once(ctx, _race(ctx, race, call_id, not every))[:n]
        statuses = sorted(str(e.status) for e in answers)
        ok = statuses.count("200") == 1 and statuses.count("404") == n - 1
        winners = [e for e in answers if e.status == 200][:2] or answers[:1]
        title = f"{n} concurrent deletes ({race})"
        with ctx.deferred():  # a call brought back is judged gone too, whatever the deletes answered
            ctx.expect("DEL-CONCURRENT-ONCE", ok, f"{title} answered {', '.join(statuses)}", *winners)
            after = calls.get(ctx.client, call_id, a.auth())
            ctx.expect_answer("DEL-GONE", after, [404], "NOT_FOUND", what=f"GET after {title}")
            back = f"GET after {title} answered {after.outcome()}: the race brought the call back"
            ctx.expect("DEL-CONCURRENT-ONCE", after.status != 200, back, *winners, after)


@check("concurrent_creates", "TENANT-404", "CREATE-IDEMPOTENT")
def concurrent_creates(ctx: Context) -> None:
    """Creates from both organisations at once, A's with one Idempotency-Key and B's first with the same
    key and body: each call lands in the organisation that made it (the other's GET: 404; a key is
    its organisation's own), and A's creates with the key give one call. Sampled: two creates of A
    with the key and one of B with it too, at once."""
    a, b = ctx.env.a, ctx.env.b
    key = f"husky-conformance-race-{ctx.config.seed}-{ctx.env.rng.getrandbits(64):016x}"
    every = Sample(ctx, "concurrent_creates").every
    per_org = max(2, ctx.config.budget.concurrency // 4) if every else 2
    senders: list[tuple[Tenant, str | None]] = [(a, key)] * per_org
    senders += [(b, key)] if b.key else []
    senders += [(t, None) for t in (a, b) if t.key] * (per_org // 2 if every else 0)
    answers = _at_once(ctx, [(0, _creator(ctx, tenant, with_key)) for tenant, with_key in senders])
    made = [(t, k, calls.created_id(e), e) for (t, k), e in zip(senders, answers, strict=True)]
    keyed = [(cid, e) for t, k, cid, e in made if t is a and k is not None]
    ids = {cid for cid, e in keyed if e.status == 201}  # a 409 for a create still under way is no second call
    ctx.expect(
        "CREATE-IDEMPOTENT",
        len(ids) == 1 and None not in ids,
        f"{len(keyed)} concurrent creates with one Idempotency-Key answered {sorted(map(str, ids))}",
        *[e for _, e in keyed],
    )
    _expect_own_org(ctx, [(t, cid) for t, _, cid, _ in made if cid is not None])


def _creator(ctx: Context, tenant: Tenant, key: str | None) -> Callable[[], Exchange]:
    """A create, with `key` (and a body of its own: a recording tells requests apart by their bodies)."""
    extra = {"Idempotency-Key": key} if key else {}
    body = {**calls.CREATE_BODY, "contact_name": f"Race {key[-8:]}"} if key else None

    def create() -> Exchange:
        return ctx.env.note_created(calls.create(ctx.client, tenant.auth(), body, **extra))

    return create


def _expect_own_org(ctx: Context, made: list[tuple[Tenant, str]]) -> None:
    """Each call made in the race is another organisation's: that organisation's GET answers 404."""
    a, b = ctx.env.a, ctx.env.b
    seen: set[tuple[str, str]] = set()  # each organisation's calls once (A's replays answer one call)
    for tenant, call_id in made:
        other = b if tenant is a else a
        if (tenant.name, call_id) in seen or other.key is None:
            continue
        seen.add((tenant.name, call_id))
        answer = calls.get(ctx.client, call_id, other.auth())
        what = f"GET by organisation {other.name} of a call {tenant.name} created in a race of both"
        ctx.expect_answer("TENANT-404", answer, [404], "NOT_FOUND", what=what)
