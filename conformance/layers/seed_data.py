"""Hypothesis strategies of the data the suite seeds calls with: the whole range the fixtures schema
allows (`SeedCallRequest` in specs/fixtures.yaml), for the targeted properties and the lifecycle.

Each string of a call's data keeps the mark `Environment.pii` gave it (ASCII, unique to the call), so
that a leak of it is found whatever else of the string a target re-encodes.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import hypothesis
from hypothesis import strategies as st

from conformance.layers.determinism import no_mined_constants

__all__ = ["FORMS_OF_DATA", "VARIED", "data_shapes", "examples", "extreme", "kinds_of_data", "shaped_pii", "varied_pii"]

T = TypeVar("T")

NON_BMP = "\U0001f4de\U0001f600\U0001d49c"  # a telephone, a face, a mathematical script A: beyond the BMP
LONG = 300  # characters: over the 255 a varchar column holds
LARGE_DURATION = 2**31 - 1  # seconds: the largest a 32-bit integer holds
TYPICAL_DURATION = 42
VARIED = ("contact_name", "contact_email", "additional_info", "transcript", "recording_url", "duration_seconds")
FORMS_OF_DATA = ("typical", "sparse", "rich")  # `varied_pii`'s forms of each field
BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")


def _lengthened(value: str) -> str:
    return (value + " " + "x" * LONG)[: max(LONG, len(value))]


def _sparse(base: dict[str, Any]) -> dict[str, Any]:
    """Every field the schema lets be empty, null or zero."""
    empty: dict[str, Any] = {
        "contact_name": None,
        "contact_email": None,
        "additional_info": {},
        "transcript": [],
        "recording_url": None,
    }
    return empty | {"duration_seconds": 0}


def _rich(base: dict[str, Any]) -> dict[str, Any]:
    """Every field long, beyond the BMP or nested: each string still holds the call's own mark."""
    note = str(base["additional_info"].get("zq_note", "note"))
    text = base["transcript"][0]["text"] if base["transcript"] else "zq transcript"
    return {
        "contact_name": _lengthened(f"{base['contact_name']} {NON_BMP}"),
        "contact_email": base["contact_email"],
        "additional_info": {"zq_nested": {"deep": [{"zq_leaf": f"{note}-nested {NON_BMP}"}], "n": 7, "on": True}},
        "transcript": [{"speaker": ("agent", "contact")[i % 2], "text": f"{text} #{i} {NON_BMP}"} for i in range(40)],
        "recording_url": base["recording_url"],
        "duration_seconds": LARGE_DURATION,
    }


def shaped_pii(base: dict[str, Any], shape: dict[str, str]) -> dict[str, Any]:
    """`base` (`Environment.pii`: strings that each hold one mark unique to the call) with each field
    of `VARIED` in the form `shape` names (`FORMS_OF_DATA`; "typical" when unnamed)."""
    forms = {"typical": base | {"duration_seconds": TYPICAL_DURATION}, "sparse": _sparse(base), "rich": _rich(base)}
    return {"contact_number": base["contact_number"]} | {f: forms[shape.get(f, "typical")][f] for f in VARIED}


def extreme(form: str) -> dict[str, str]:
    """The shape with every field in `form`: "sparse" (every null, empty and zero value at once) or
    "rich" (every long, non-BMP, nested and large one)."""
    return dict.fromkeys(VARIED, form)


def data_shapes() -> st.SearchStrategy[dict[str, str]]:
    """Which form of each field a seeded call takes: the whole range the fixtures schema allows
    (SeedCallRequest in specs/fixtures.yaml), null, empty, zero, long, non-BMP, nested and large."""
    return st.fixed_dictionaries({f: st.sampled_from(FORMS_OF_DATA) for f in VARIED})


def varied_pii(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A call's seeded data around `base`: either extreme (the simplest draws), or each field drawn."""
    extremes = st.sampled_from([extreme("sparse"), extreme("rich")])
    return st.one_of(extremes, data_shapes()).map(lambda shape: shaped_pii(base, shape))


def kinds_of_data(pii: dict[str, Any]) -> tuple[str, ...]:
    """The kinds of data a call was seeded with (`shaped_pii`, `Environment.pii`): each null, empty,
    zero, long, non-BMP, nested and large value it holds; "typical" when none."""
    transcript, info = pii.get("transcript"), pii.get("additional_info")
    duration, text = pii.get("duration_seconds"), json.dumps(pii, ensure_ascii=False)
    found = {
        "null recording_url": "recording_url" in pii and pii["recording_url"] is None,
        "null contact fields": pii.get("contact_name", "") is None or pii.get("contact_email", "") is None,
        "empty transcript": transcript == [],
        "long transcript": isinstance(transcript, list) and len(transcript) >= 10,
        "empty additional_info": info == {},
        "nested additional_info": isinstance(info, dict) and any(isinstance(v, (dict, list)) for v in info.values()),
        "long strings": any(isinstance(v, str) and len(v) > 255 for v in pii.values()),
        "non-BMP characters (emoji)": BEYOND_BMP.search(text) is not None,
        "zero duration": duration == 0 and not isinstance(duration, bool),
        "large duration": isinstance(duration, int) and duration >= LARGE_DURATION,
    }
    return tuple(kind for kind, holds in found.items() if holds) or ("typical",)


def examples(strategy: st.SearchStrategy[T], n: int, seed: int) -> list[T]:
    """`n` values of `strategy`, the same for the same seed: the first is its simplest, the rest drawn
    (fewer when it has fewer distinct values). For a check that draws its inputs outside a test."""
    found: list[T] = []

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=n,
        database=None,
        phases=[hypothesis.Phase.generate],
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(strategy)
    def take(value: T) -> None:
        if value not in found:
            found.append(value)

    with no_mined_constants():
        take()
    return found[:n]
