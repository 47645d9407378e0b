"""Imported by the suite runs' forkserver (`suite_runs._PRELOAD`): what each run would compute once
in its process, computed once for every run forked from it.

Schemathesis draws the invalid values of an enum from a list it builds the first time a process
needs it: a seeded hypothesis search whose filter rejects every value (about 0.5 s of CPU, a quarter
of a smoke run's). The search is seeded, so the list is the same in every process: a forked run
starts with the list a new process would have built."""

import warnings

from hypothesis.errors import HypothesisSideeffectWarning
from schemathesis.specs.openapi.coverage._schema import _invalid_enum_candidates

with warnings.catch_warnings():
    # Imported beside hypothesis' pytest plugin and outside any pytest run, the search looks to
    # hypothesis like a plugin's slow start-up: true, and the reason it is done here.
    warnings.simplefilter("ignore", HypothesisSideeffectWarning)
    _invalid_enum_candidates()
