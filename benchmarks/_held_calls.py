"""A pytest plugin of `benchmarks/scaling.py` (`-p _held_calls`): the run starts out holding
`BENCH_HELD_CALLS` extra calls of its own, without a request.

Each extra call is in the ledger (cancelled, so the clean-up leaves it be), among the ids the suite
made (`env.created`) and vouched for, and deleted: five PII strings of it, made as the suite makes
them, are among those no later response may hold (`env.erasure`). Nothing generated depends on
them, so the run sends the very same requests as without them; what it costs more is what the
suite's bookkeeping costs per call it holds (the injection itself is left out of `duration_s`).
"""

from __future__ import annotations

import os
import random
import time

import pytest


@pytest.hookimpl(trylast=True)  # after the suite's own plugin has opened the run
def pytest_collection_finish(session: pytest.Session) -> None:
    from conformance.plugin import SESSION

    suite = session.config.stash.get(SESSION, None)
    count = int(os.environ.get("BENCH_HELD_CALLS", "0"))
    if suite is None or not count:
        return
    env, ledger = suite.ctx.env, suite.ctx.env.ledger
    path, ledger.path = ledger.path, None  # not written to ledger.jsonl: no file work at the start
    rng, began = random.Random(count), time.monotonic()
    try:
        for n in range(count):
            env.created_now(f"held-{n:08d}", env.a, "cancelled")
            mark = f"{rng.getrandbits(48):012x}held"  # as `Environment.pii` marks its calls
            pii = {f"Zq Person {mark}", f"zq.{mark}@example.invalid", f"note-{mark}", f"zq transcript {mark}"}
            env.erasure.erase(f"held-{n:08d}", pii | {f"https://recordings.example.invalid/zq-{mark}.mp3"})
    finally:
        ledger.path = path
        suite.started += time.monotonic() - began  # the run's duration_s leaves the injection out
