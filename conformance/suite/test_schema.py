"""The schema layer: schemathesis over every operation of the spec, then along its links.

One test per operation (examples, coverage and fuzzing phases), named `METHOD /path`, and one for
the stateful phase; `-k schema` selects them all. Findings are recorded into the run's results as
they happen (see `conformance.layers.schema`); as with every check, a test fails when a MUST did.
"""

from __future__ import annotations

import pytest

from conformance.contract.requirements import by_id
from conformance.errors import Failure
from conformance.layers.context import Context
from conformance.layers.schema import Finding, SchemaLayer, operation_labels

# What the checks of each phase can judge (see `conformance.layers.schema.CHECK_REQUIREMENTS`).
RESPONSES = ("ENV-NO-5XX", "SCHEMA-RESPONSES", "SCHEMA-STATUS-DOCUMENTED", "AUTH-MISSING-401", "AUTH-UNKNOWN-401")
GENERATED = ("SCHEMA-NEGATIVE-REJECTED", "SCHEMA-POSITIVE-ACCEPTED")
OPERATION = pytest.mark.husky(layer="schema", requirements=(*RESPONSES, *GENERATED, "ENV-WRONG-METHOD-405"))
STATEFUL = pytest.mark.husky(layer="schema", requirements=(*RESPONSES, *GENERATED, "DEL-GONE", "CREATE-201-QUEUED"))


@pytest.fixture(scope="session")
def schema_layer(husky: Context) -> SchemaLayer:
    """Schemathesis configured for this run's target, with calls seeded for it (once a session)."""
    return SchemaLayer(husky)


def _verdict(findings: list[Finding]) -> None:
    """Fail the test when a MUST was broken (the findings are recorded already: this only names them)."""
    __tracebackhide__ = True
    if not any(by_id(f.requirement).level == "MUST" for f in findings):
        return
    failures = [Failure(f.requirement, f.message) for f in findings]
    if len(failures) == 1:
        raise failures[0]
    raise ExceptionGroup(f"the schema layer found {len(failures)} failures", failures)


@OPERATION
@pytest.mark.parametrize("operation", operation_labels())
def test_schema_operation(operation: str, schema_layer: SchemaLayer) -> None:
    """Examples, coverage and fuzzing of one operation, every schemathesis check on every response."""
    _verdict(schema_layer.run_operation(operation))


@STATEFUL
def test_schema_stateful(schema_layer: SchemaLayer) -> None:
    """Scenarios along the spec's links: create, then get, cancel and delete what was created."""
    _verdict(schema_layer.run_stateful())
