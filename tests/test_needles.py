"""`Needles` finds exactly what looking for each string one by one finds, however many there are."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.target.needles import ONE_BY_ONE, PIECE, Needles, found_in

ALPHABET = "ab\u00e9 ."  # few letters: pieces are shared, strings overlap and occur often
STRINGS = st.text(ALPHABET, min_size=1, max_size=3 * PIECE)


def one_by_one(values: set[str], body: bytes) -> list[str]:
    return sorted(value for value in values if value.encode() in body)


@settings(max_examples=200, deadline=None)
@given(values=st.sets(STRINGS, max_size=3 * ONE_BY_ONE), bodies=st.lists(st.text(ALPHABET, max_size=200), max_size=5))
def test_it_finds_what_one_by_one_finds(values: set[str], bodies: list[str]) -> None:
    needles = Needles(values)
    for text in bodies:
        body = text.encode()
        assert needles.found_in(body) == one_by_one(values, body)
        assert found_in(values, body) == one_by_one(values, body)


@settings(max_examples=100, deadline=None)
@given(values=st.sets(STRINGS, min_size=1, max_size=3 * ONE_BY_ONE), data=st.data())
def test_a_string_taken_out_is_no_longer_found(values: set[str], data: st.DataObject) -> None:
    needles = Needles(values)
    gone = data.draw(st.sampled_from(sorted(values)))
    needles.discard(gone)
    body = " ".join(sorted(values)).encode()
    assert needles.found_in(body) == one_by_one(values - {gone}, body)
    assert gone not in needles
    assert len(needles) == len(values) - 1


def test_a_string_that_repeats_itself_is_taken_out_cleanly() -> None:
    """Its pieces repeat too ('é' is two bytes): it is filed once under each, and taken out of each."""
    value = "a" + "\u00e9" * 5  # 11 bytes: filed under pieces, two of them alike
    needles = Needles({value})
    needles.discard(value)
    assert not needles
    assert needles.found_in(value.encode()) == []


def test_it_is_a_set_that_grows() -> None:
    needles = Needles()
    assert not needles
    needles.add("Zq Person 1")
    needles |= {f"Zq Person {n}" for n in range(200)}
    assert len(needles) == 200
    assert "Zq Person 7" in needles
    assert needles.found_in(b'{"contact_name": "Zq Person 17"}') == ["Zq Person 1", "Zq Person 17"]
