"""The schema layer: schemathesis, driven from inside the suite, against the suite's target.

This package owns the translation both ways. The run's target (with its base path), seed, budget,
organisation A's key, its webhook token and calls seeded in every state the environment allows
become one schemathesis config (`configuration`). Every check result schemathesis reports becomes a
counted check (`judging`), and every failure a recorded one, of a requirement of the catalogue
(`CHECK_REQUIREMENTS`), with schemathesis' curl reproduction (secrets as `${NAME}` references) and
the seed (`findings`). Every built-in check runs, plus one of ours in the stateful phase, for what
`use_after_free` cannot judge.

Nothing schemathesis raises about the target escapes: check failures and network errors are
recorded and the run goes on with the next example. We record instead of raising into Hypothesis
(which would shrink) on purpose: the target is stateful, so a shrink replays requests against a
server that has moved on (a deleted call stays deleted), which makes shrinking flaky and costly;
and the examples and coverage phases, which run first, already send minimal one-deviation
requests, whose failure is the one kept (the results keep the first failure of each message).
With the seed fixed and no example database, the same seed sends the same requests.

Schemathesis sends through `requests`, not the suite's client. Each of its requests (auth probes
included) is counted into the run's total and shown to the client's observers as an `Exchange`,
so the response-wide rules (`conformance.layers.universal`) judge fuzzed responses too; 429s are waited
out as the client does. It sends through `conformance.http.capped_session`: the client's size cap and total
deadline hold for schemathesis' requests too, and no redirect is followed (`layer`). Cancels and
deletes go only to calls the suite made (`safety`).

The per-operation phases (`operations`) use `create_test`, the builder schemathesis' pytest plugin
and its engine share, and the stateful phase (`stateful`) adds rules with schemathesis' own
`transition`: neither is public API, which is one more reason schemathesis is pinned exactly.
"""

from conformance.layers.schema.configuration import (
    SAMPLED_SEEDED_STATES,
    SEEDED_STATES,
    layer_config,
    operation_labels,
    operation_test,
)
from conformance.layers.schema.findings import Finding, render_curl
from conformance.layers.schema.judging import CHECK_REQUIREMENTS, requirement_for
from conformance.layers.schema.layer import SchemaLayer

__all__ = [
    "CHECK_REQUIREMENTS",
    "SAMPLED_SEEDED_STATES",
    "SEEDED_STATES",
    "Finding",
    "SchemaLayer",
    "layer_config",
    "operation_labels",
    "operation_test",
    "render_curl",
    "requirement_for",
]
