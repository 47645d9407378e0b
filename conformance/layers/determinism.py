"""Same seed, same requests: whatever the install, whatever else the process imported.

Hypothesis mixes into what it generates literals it mines from "local" source files, those outside
site-packages: the suite's own package in an editable install (not from a wheel), the user's
conftest and modules. The same seed would then send other requests after any edit, or from a
wheel rather than a checkout. While the suite's layers generate (the schema layer's operations and
scenarios, the lifecycle), hypothesis mines nothing: it still draws its own built-in constants,
which come with its pinned version.

Hypothesis also builds Unicode tables (about 200 MB at their peak, four seconds) in the current
directory's `.hypothesis/`. The command line keeps them in the user's cache instead, and builds
them once, before a run, in a process of their own: a run that built them would keep that memory
for the rest of its life (CPython seldom gives it back).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants

__all__ = ["hypothesis_home", "no_mined_constants", "seed_case_ids", "warm_unicode_tables"]

STORAGE = "HYPOTHESIS_STORAGE_DIRECTORY"
WARM_UP = (
    "from hypothesis.internal.charmap import charmap, intervals_from_codec; charmap(); intervals_from_codec('utf-8')"
)
WARM_UP_SECONDS = 120


@contextmanager
def no_mined_constants() -> Iterator[None]:
    """Inside, hypothesis draws no constant mined from local source files."""
    mined, empty = providers._get_local_constants, Constants()
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()  # its pools were made with the mined constants
    try:
        yield
    finally:
        providers._get_local_constants = mined
        providers.CONSTANTS_CACHE.cache.clear()


def seed_case_ids(seed: int) -> None:
    """Schemathesis labels each request with an `X-Schemathesis-TestCaseId` drawn from a generator
    of its own, seeded from the clock: seeded with the run's seed, the header is the same each run."""
    from schemathesis.generation import RANDOM

    RANDOM.seed(seed)


def hypothesis_home() -> Path:
    """Where the command line keeps hypothesis' files: `$XDG_CACHE_HOME/husky-conformance/hypothesis`."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "husky-conformance" / "hypothesis"


def warm_unicode_tables() -> None:
    """Hypothesis' Unicode tables in its storage directory, built by a short process of their own
    unless they are there already. A failure only means the run builds them itself."""
    home = os.environ.get(STORAGE)
    if home is None or (Path(home) / "unicode_data").is_dir():
        return
    with suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", WARM_UP], capture_output=True, timeout=WARM_UP_SECONDS, check=False)
