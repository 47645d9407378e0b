"""Contract section 5: "concurrent deletes of one completed call: exactly one 200"."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from conformance.http.client import Exchange
from conformance.layers.checks import check
from conformance.layers.context import Context
from conformance.target import calls


@check("concurrent_delete", "DEL-CONCURRENT-ONCE")
def concurrent_delete(ctx: Context) -> None:
    """N deletes of one completed call sent at once: exactly one 200, every other 404."""
    ctx.env.need_state("completed")
    a, n = ctx.env.a, ctx.config.budget.concurrency
    call_id = ctx.env.seed_call(a, "completed")
    start = threading.Barrier(n)

    def delete(_: int) -> Exchange:
        start.wait()
        return calls.rest(ctx.client, "delete", call_id, a.auth())

    with ThreadPoolExecutor(max_workers=n) as pool:
        answers = list(pool.map(delete, range(n)))
    statuses = sorted(str(e.status) for e in answers)
    ok = statuses.count("200") == 1 and statuses.count("404") == n - 1
    winners = [e for e in answers if e.status == 200][:2] or answers[:1]
    ctx.expect("DEL-CONCURRENT-ONCE", ok, f"{n} concurrent deletes answered {', '.join(statuses)}", *winners)
