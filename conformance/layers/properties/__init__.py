"""The targeted properties, each a registered check (see `conformance.layers.checks`)."""

from conformance.layers.properties import (
    auth,
    concurrency,
    create,
    erasure,
    ids,
    repeat,
    routes,
    states,
    tenancy,
    webhook,
)

__all__ = [
    "auth",
    "concurrency",
    "create",
    "erasure",
    "ids",
    "repeat",
    "routes",
    "states",
    "tenancy",
    "webhook",
]
